"""Message metadata that names a job's message, so that a post whose answer was lost can be found again.

Every message the notifier posts carries ``{"event_type": "veo_job", "event_payload": {"job", "kind", "salt"}}``
(Slack's message metadata, read back by ``conversations.history`` / ``conversations.replies`` with
``include_all_metadata``). The salt is the database's own (``nonce_salt``), so that a fresh database never
takes job #1 of an older one for its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EVENT_TYPE = "veo_job"


def job_metadata(job_id: int, kind: str, salt: str) -> dict[str, Any]:
    """The metadata of one of a job's messages."""
    return {"event_type": EVENT_TYPE, "event_payload": {"job": job_id, "kind": kind, "salt": salt}}


def names_post(message: Mapping[str, Any], *, job_id: int, kind: str, salt: str, bot_user_id: str) -> bool:
    """Whether a message from history is this bot's message of ``kind`` for the job."""
    if message.get("user") != bot_user_id:
        return False
    metadata = message.get("metadata")
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != EVENT_TYPE:
        return False
    payload = metadata.get("event_payload")
    if not isinstance(payload, Mapping):
        return False
    return str(payload.get("job")) == str(job_id) and payload.get("kind") == kind and payload.get("salt") == salt
