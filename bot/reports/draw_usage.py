"""``python -m bot.reports.draw_usage LANGUAGE``: reads a usage chart's JSON on stdin, writes its PNG on stdout.

The bot draws each chart in this short-lived process: matplotlib and its fonts (some 60 MB) are loaded
there and given back when it exits, so the bot's own memory stays as it was.
"""

from __future__ import annotations

import sys

from bot.reports.usage_chart import render_png
from bot.reports.usage_series import chart_from_json


def main(argv: list[str]) -> int:
    """Draw the chart read from stdin in the language named by ``argv[0]`` (``en``, ``ko``, ``vi``)."""
    language = argv[0] if argv else "en"
    chart = chart_from_json(sys.stdin.read())
    sys.stdout.buffer.write(render_png(chart, language))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
