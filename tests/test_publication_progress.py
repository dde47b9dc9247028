"""A running publication is visible to every process, and a second one waits its turn."""

import json

from analytics import publication_progress as progress_file
from analytics.publications import BUSY, publish
from analytics.settings import get_settings


def test_a_running_publication_is_visible_then_gone():
    assert progress_file.running() is None
    with progress_file.Tracker("Camille") as tracker:
        tracker(0.4, "Année 2025 : masquage et audit")
        seen = progress_file.running()
        assert seen is not None and seen.author == "Camille"
        assert (seen.fraction, seen.label) == (0.4, "Année 2025 : masquage et audit")
    assert progress_file.running() is None


def test_a_file_left_by_a_dead_process_does_not_count(tmp_path):
    path = get_settings().data_dir / progress_file.FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": 2**22 + 12345, "fraction": 0.5, "label": "x", "started_at": 0, "author": "a"}), encoding="utf-8")
    assert progress_file.running() is None


def test_publish_refuses_to_start_while_another_runs(engine):
    with progress_file.Tracker("Dominique"):
        outcome = publish("Camille", engine=engine)
    assert outcome.status == BUSY and not outcome.ok
    assert "Dominique" in outcome.message and outcome.number is None
