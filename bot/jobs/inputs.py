"""Input images of jobs queued before they moved into the database (``job_images``): files under
``VEO_DATA_DIR/inputs``, one folder per job, read at submission and removed once sent. New jobs no longer write
any; a job with a folder and no rows in the store is read from here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bot.jobs.provider import ImageInput

_MANIFEST = "inputs.json"


def load_inputs(folder: str | None) -> list[ImageInput]:
    """Read back a job's image folder, in its order; raise FileNotFoundError if gone."""
    if folder is None:
        return []
    path = Path(folder)
    manifest = json.loads((path / _MANIFEST).read_text(encoding="utf-8"))
    return [
        ImageInput(data=(path / e["file"]).read_bytes(), filename=e["filename"], content_type=e["content_type"])
        for e in manifest
    ]


def remove_inputs(folder: str | None) -> None:
    """Delete a job's saved images once they are no longer needed."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
