"""What both store backends share of the workspace tables: the settings' columns, the lists among them, and
which jobs count as likely billed in the usage figures."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable

from bot.jobs.policy import OVERRIDABLE

# JSON lists of ids or names; NULL = no list set.
LIST_COLUMNS = ("allowed_channels", "allowed_roles", "allowed_models", "thread_channels")
SETTINGS_COLUMNS = (*OVERRIDABLE, "thread_channels", "paused", "pause_reason", "updated_at", "updated_by")
# Likely billed by the provider: a video was made, or the job was cancelled after the provider accepted it.
BILLED_SQL = ("SUM(CASE WHEN status IN ('completed', 'delivered') OR (status = 'cancelled' AND task_id IS NOT NULL)"
              " THEN 1 ELSE 0 END)")
# Usage days are counted in whole days since this one (the UTC calendar day).
EPOCH = datetime.date(1970, 1, 1)


def encode_list(values: Iterable[object]) -> str:
    """A list column's stored text."""
    return json.dumps(list(values))


def decode_list(text: str) -> tuple[str, ...]:
    """A list column's values, as text."""
    return tuple(str(v) for v in json.loads(text))
