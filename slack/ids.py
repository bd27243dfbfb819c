"""How the Slack face names things in the job core: the platform, and checks of Slack's ids."""

from __future__ import annotations

import re

PLATFORM = "slack"

# A message timestamp, which is also a message's id within its conversation: seconds, a dot, six digits.
_TS = re.compile(r"\d{9,12}\.\d{6}")


def is_ts(text: object) -> bool:
    """True when ``text`` has the shape of a Slack message timestamp (``1712345678.123456``)."""
    return isinstance(text, str) and _TS.fullmatch(text) is not None
