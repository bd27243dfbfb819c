"""The chart fonts: matplotlib's DejaVu Sans (Latin, Vietnamese) and Noto Sans KR (Hangul), which pip installs.

DejaVu Sans has no Hangul: a Korean label drawn with it alone shows empty boxes. Noto Sans KR (SIL Open
Font License) comes from the ``pylopdf-fonts-ko`` package and is registered with matplotlib on first use.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

import matplotlib
import pylopdf_fonts_ko
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

LATIN = "DejaVu Sans"
HANGUL = "Noto Sans KR"
_LOCK = threading.Lock()


def hangul_font() -> Path:
    """The Noto Sans KR file."""
    return Path(pylopdf_fonts_ko.sans_path())


def latin_font() -> Path:
    """matplotlib's own DejaVu Sans file."""
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


@cache
def register() -> None:
    """Make Noto Sans KR known to matplotlib's font manager (once per process)."""
    with _LOCK:
        font_manager.fontManager.addfont(str(hangul_font()))


def families(language: str) -> list[str]:
    """The font list for a language, first choice first; matplotlib falls back glyph by glyph."""
    register()
    return [HANGUL, LATIN] if language == "ko" else [LATIN, HANGUL]


@cache
def covered() -> frozenset[int]:
    """The code points the two fonts can draw."""
    points: set[int] = set()
    for path in (latin_font(), hangul_font()):
        points.update(FT2Font(str(path)).get_charmap())
    return frozenset(points)


def drawable(text: str) -> str:
    """``text`` without the characters neither font has (emoji, Han, ...), so no glyph is drawn as a box."""
    glyphs = covered()
    return "".join(c for c in text if c.isspace() or ord(c) in glyphs).strip()
