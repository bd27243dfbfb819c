"""Files written whole or not at all: the content appears under its name only once complete."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bot.part_files import is_part_file, new_part_file, written_whole


def test_a_finished_write_takes_the_name_and_leaves_no_part_file(tmp_path: Path) -> None:
    dest = tmp_path / "videos" / "12.mp4"
    with written_whole(dest) as part:
        assert is_part_file(part) and part.parent == dest.parent and not dest.exists()
        part.write_bytes(b"whole")
    assert dest.read_bytes() == b"whole"
    assert [p.name for p in dest.parent.iterdir()] == ["12.mp4"]


def test_a_failed_write_leaves_neither_the_file_nor_its_part(tmp_path: Path) -> None:
    dest = tmp_path / "12.mp4"
    dest.write_bytes(b"old")
    with pytest.raises(RuntimeError), written_whole(dest) as part:
        part.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert dest.read_bytes() == b"old"  # the earlier file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["12.mp4"]


def test_part_files_are_owner_only_and_recognised(tmp_path: Path) -> None:
    fd, part = new_part_file(tmp_path / "v.mp4")
    try:
        assert stat.S_IMODE(part.stat().st_mode) == 0o600
        assert is_part_file(part) and not is_part_file(tmp_path / "v.mp4")
    finally:
        os.close(fd)
