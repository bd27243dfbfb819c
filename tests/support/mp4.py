"""Reading an MP4's structure in tests, without a media library."""

from __future__ import annotations


def top_level_boxes(data: bytes) -> list[str]:
    """The types of an MP4's top-level boxes, in file order (ISO/IEC 14496-12 box headers)."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = int.from_bytes(data[offset:offset + 4], "big"), data[offset + 4:offset + 8].decode("latin-1")
        if size == 1:  # a 64-bit size follows the type
            size = int.from_bytes(data[offset + 8:offset + 16], "big")
        elif size == 0:  # the box runs to the end of the file
            size = len(data) - offset
        assert size >= 8, f"bad box size {size} at {offset}"
        boxes.append(kind)
        offset += size
    assert offset == len(data), "the boxes do not end with the file"
    return boxes
