"""Where a running publication says how far it is, so that every process (the app, the command
line) can show it: a small JSON file in the data directory, written as the work goes on and
removed at the end. It holds a fraction and a label, never a figure from the data.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from analytics.settings import get_settings

FILE_NAME = "publication-en-cours.json"


@dataclass(frozen=True)
class Running:
    fraction: float
    label: str
    started_at: float
    author: str


def _path() -> Path:
    return get_settings().data_dir / FILE_NAME


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def running() -> Running | None:
    """The publication under way, or None (a file left by a process that died does not count)."""
    try:
        state = json.loads(_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not _alive(int(state.get("pid", -1))):
        return None
    return Running(float(state["fraction"]), str(state["label"]), float(state["started_at"]), str(state["author"]))


class Tracker:
    """Context manager a publication runs in; `tracker(fraction, label)` records its progress."""

    def __init__(self, author: str):
        self.author, self.started_at = author, time.time()

    def __enter__(self) -> "Tracker":
        self(0.0, "Démarrage de la publication")
        return self

    def __call__(self, fraction: float, label: str) -> None:
        path = _path()
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {"pid": os.getpid(), "fraction": fraction, "label": label, "started_at": self.started_at, "author": self.author}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)  # readers never see half a file

    def __exit__(self, *_exc) -> None:
        _path().unlink(missing_ok=True)
