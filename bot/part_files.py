"""Files written whole or not at all: each is written to a ``.<name>.<random>.part`` file beside it, then
renamed onto its name, so a reader never sees half a file and a crash leaves only a ``.part`` file behind
(which start-up recovery removes)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

PART_SUFFIX = ".part"


def new_part_file(dest: Path) -> tuple[int, Path]:
    """Create an empty part file beside ``dest`` (owner-only); return its open descriptor and its path."""
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=PART_SUFFIX)
    return fd, Path(name)


def is_part_file(path: Path) -> bool:
    """True for a part file left by a write that never finished."""
    return path.name.startswith(".") and path.name.endswith(PART_SUFFIX)


@contextlib.contextmanager
def written_whole(dest: Path) -> Iterator[Path]:
    """A part-file path to write ``dest``'s content to; it becomes ``dest`` when the block ends without error
    and is removed otherwise (cancellation included)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, part = new_part_file(dest)
    os.close(fd)
    try:
        yield part
        os.replace(part, dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
