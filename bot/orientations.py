"""How each of the bot's orientations is sent to the video API: its ``size`` and ``seconds`` fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class OrientationParams:
    """The API's ``size`` and ``seconds`` fields for one bot orientation (None = field not sent)."""

    size: str
    seconds: str | None


# The one place that maps the bot's orientation to the API's fields. The older Veo page takes an
# orientation hint and fixes 8 s, so the default sends no ``seconds``.
DEFAULT_ORIENTATION_MAP: Mapping[str, OrientationParams] = MappingProxyType(
    {
        "16x9": OrientationParams("16x9", None),
        "9x16": OrientationParams("9x16", None),
    }
)

_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}$")
_SIZE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_SECONDS_RE = re.compile(r"^[0-9]{1,3}$")


def parse_orientation_map(text: str) -> dict[str, OrientationParams]:
    """Parse ``16x9=1280x720:8,9x16=720x1280:8`` (``:seconds`` optional); raise ValueError on bad text."""
    result: dict[str, OrientationParams] = {}
    entries = [entry.strip() for entry in text.split(",")]
    if not any(entries):
        raise ValueError("orientation map is empty; expected e.g. '16x9=1280x720:8,9x16=720x1280:8'")
    for entry in entries:
        if not entry:
            raise ValueError(f"orientation map {text!r} has an empty entry (stray comma?)")
        name, sep, value = entry.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ValueError(f"orientation map entry {entry!r} must look like 'orientation=size[:seconds]'")
        if not _KEY_RE.match(name):
            raise ValueError(f"orientation name {name!r} in entry {entry!r} is not a simple token")
        if name in result:
            raise ValueError(f"orientation {name!r} appears twice in the orientation map")
        size, colon, seconds = value.partition(":")
        size, seconds = size.strip(), seconds.strip()
        if not _SIZE_RE.match(size):
            raise ValueError(f"size {size!r} in entry {entry!r} is not like '16x9' or '1280x720'")
        if colon and not _SECONDS_RE.match(seconds):
            raise ValueError(f"seconds {seconds!r} in entry {entry!r} must be a whole number like 8")
        result[name] = OrientationParams(size, seconds if colon else None)
    return result
