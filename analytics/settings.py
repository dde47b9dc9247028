"""Deployment settings, read from the environment (one place, no scattered os.environ)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    nomenclature_path: Path
    k: int
    max_upload_mb: int

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def get_settings() -> Settings:
    """Settings as the environment says now (cheap; no caching so tests can change them)."""
    data_dir = Path(os.environ.get("VIGIE_DATA_DIR", PROJECT_ROOT / "var")).resolve()
    url = os.environ.get("VIGIE_DATABASE_URL") or f"sqlite:///{data_dir / 'vigie.sqlite'}"
    preset = Path(os.environ.get("VIGIE_NOMENCLATURE", DATA_DIR / "nomenclature.yaml"))
    return Settings(
        data_dir=data_dir,
        database_url=url,
        nomenclature_path=preset,
        k=int(os.environ.get("VIGIE_K", "5")),
        max_upload_mb=int(os.environ.get("VIGIE_MAX_UPLOAD_MB", "200")),
    )
