"""Input images kept on disk between a request and its submission, so a queued job survives restarts."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

from bot.jobs.provider import ImageInput

_MANIFEST = "inputs.json"


def save_inputs(data_dir: Path, images: Sequence[ImageInput]) -> str | None:
    """Write the images to a fresh folder under ``data_dir/inputs``; return its path (None for no images)."""
    if not images:
        return None
    root = data_dir / "inputs"
    root.mkdir(parents=True, exist_ok=True)
    folder = root / uuid.uuid4().hex
    staging = root / f".{folder.name}.tmp"
    staging.mkdir(mode=0o700)
    manifest = []
    for index, image in enumerate(images):
        name = f"{index}.bin"
        (staging / name).write_bytes(image.data)
        manifest.append({"file": name, "filename": image.filename, "content_type": image.content_type})
    (staging / _MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    # Renamed into place only when complete: a crash leaves a hidden staging folder, never half a job.
    staging.rename(folder)
    return str(folder)


def load_inputs(folder: str | None) -> list[ImageInput]:
    """Read back the images saved by ``save_inputs``, in their order; raise FileNotFoundError if gone."""
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
