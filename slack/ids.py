"""Slack in the job records: the platform's name (ids are Slack's own text ids: T…, C…/G…, U…/W…, message ts)."""

from __future__ import annotations

PLATFORM = "slack"
