"""Tests for the pure parts of the video client: task-body normalisation, settings, Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.comet.http import backoff_delay, parse_retry_after
from bot.comet.parse import parse_progress, parse_state, parse_task_status
from bot.comet.types import RetryPolicy
from bot.jobs.provider import InvalidProviderResponse, TaskState, TaskStatus
from bot.orientations import DEFAULT_ORIENTATION_MAP, OrientationParams, parse_orientation_map

URL = "https://cdn.example.com/v.mp4?sig=1"


def status_of(body: object) -> TaskStatus:
    return parse_task_status(body, "task_1")


# -- states ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["queued", "submitted", "pending", "in_progress", "IN_PROGRESS", "In Progress", "processing", "running",
     "RUNNING", "something-new", "not_started"],
)
def test_running_and_unknown_spellings_are_running(raw: str) -> None:
    assert parse_state(raw) is TaskState.RUNNING
    status = status_of({"status": raw, "progress": 10, "video_url": URL})
    assert status.state is TaskState.RUNNING
    assert status.video_url is None  # a URL is only trusted once the task says it is done
    assert status.error is None


@pytest.mark.parametrize("raw", ["completed", "COMPLETED", "succeeded", "Success", "SUCCESS", "done", " Done "])
def test_success_spellings(raw: str) -> None:
    status = status_of({"status": raw, "progress": 37, "video_url": URL})
    assert status.state is TaskState.SUCCEEDED
    assert status.progress == 100
    assert status.video_url == URL
    assert status.raw_status == raw.strip()


@pytest.mark.parametrize(
    "raw", ["failed", "FAILURE", "error", "cancelled", "canceled", "Expired", "REJECTED"]
)
def test_failure_spellings(raw: str) -> None:
    status = status_of({"status": raw, "error": {"message": "boom (request id: 7)", "code": "x"}})
    assert status.state is TaskState.FAILED
    assert status.error == "boom"
    assert status.safety_rejection is False


# -- progress --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), (42, 42), (42.9, 42), ("50%", 50), (" 75 % ", 75), ("12.5", 12), (None, 0), ("n/a", 0),
     (-5, 0), (250, 100), ("300%", 100), (True, 0), (float("nan"), 0), (float("inf"), 100), ([50], 0)],
)
def test_progress_forms(value: object, expected: int) -> None:
    assert parse_progress(value) == expected
    assert isinstance(parse_progress(value), int)


def test_missing_progress_is_zero_while_running() -> None:
    assert status_of({"status": "queued"}).progress == 0


# -- result locations and envelopes ----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"status": "completed", "video_url": URL},
        {"status": "completed", "metadata": {"url": URL}},
        {"status": "completed", "url": URL},
        {"status": "completed", "output": {"url": URL}},
        {"status": "completed", "data": {"video_url": URL}},
        {"code": "success", "data": {"status": "completed", "video_url": URL}},
        {"code": "success", "data": {"status": "SUCCESS", "metadata": {"url": URL}}},
        {"status": "completed", "video_url": "", "metadata": {"url": "  "}, "output": {"url": URL}},
        {"status": "completed", "video_url": None, "url": 5, "output": URL, "data": {"video_url": URL}},
    ],
)
def test_every_documented_result_location(body: dict[str, Any]) -> None:
    status = status_of(body)
    assert status.state is TaskState.SUCCEEDED
    assert status.video_url == URL


def test_completed_without_url_leaves_the_content_fallback_to_the_client() -> None:
    status = status_of({"status": "completed"})
    assert status.state is TaskState.SUCCEEDED
    assert status.video_url is None


def test_wrapped_running_body() -> None:
    status = status_of({"data": {"status": "IN_PROGRESS", "progress": "30%"}})
    assert (status.state, status.progress, status.raw_status) == (TaskState.RUNNING, 30, "IN_PROGRESS")


# -- failures --------------------------------------------------------------------------------------


def test_failure_from_fail_reason() -> None:
    status = status_of({"status": "FAILURE", "fail_reason": "upstream\ttimeout  (request id: 99)"})
    assert status.error == "upstream timeout"


def test_failure_from_error_string() -> None:
    assert status_of({"status": "failed", "error": "quota exhausted"}).error == "quota exhausted"


def test_failure_without_a_message_gets_a_plain_default() -> None:
    status = status_of({"status": "failed", "error": None})
    assert status.error == "The video service reported that the job failed."
    assert not status.safety_rejection


def test_safety_failure_is_flagged() -> None:
    body = {"status": "failed", "error": {"message": "The input image violates the usage guidelines",
                                          "code": "PUBLIC_ERROR_MINOR"}}
    status = status_of(body)
    assert status.safety_rejection
    assert status.error == "The input image violates the usage guidelines"


def test_safety_flagged_from_code_only() -> None:
    status = status_of({"status": "failed", "error": {"message": "refused", "code": "moderation_blocked"}})
    assert status.safety_rejection


def test_long_failure_message_is_truncated() -> None:
    status = status_of({"status": "failed", "error": {"message": "x" * 5000}})
    assert status.error is not None and len(status.error) <= 300


# -- unusable bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [None, [], "completed", 5, {}, {"status": None}, {"status": ""}, {"status": 3}, {"data": []}]
)
def test_unusable_bodies_raise_invalid_provider_response(body: object) -> None:
    with pytest.raises(InvalidProviderResponse):
        status_of(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)
known_keys = st.sampled_from(
    ["status", "state", "progress", "video_url", "url", "metadata", "output", "data", "error", "fail_reason"]
)
task_like = st.dictionaries(known_keys, json_values, max_size=8)
status_words = st.sampled_from(["queued", "SUCCESS", "failed", "done", "weird", "", "error", "IN_PROGRESS"])


@settings(max_examples=250, deadline=None)
@given(st.one_of(json_values, task_like, st.builds(lambda d, s: {**d, "status": s}, task_like, status_words),
                 st.builds(lambda d: {"data": d}, task_like)))
def test_any_json_body_gives_a_status_or_invalid_response(body: object) -> None:
    try:
        status = parse_task_status(body, "task_h")
    except InvalidProviderResponse:
        return
    assert isinstance(status.state, TaskState)
    assert isinstance(status.progress, int) and 0 <= status.progress <= 100
    assert status.video_url is None or (isinstance(status.video_url, str) and status.video_url)
    assert (status.error is not None) == (status.state is TaskState.FAILED)
    assert status.safety_rejection is False or status.state is TaskState.FAILED
    if status.state is TaskState.SUCCEEDED:
        assert status.progress == 100


# -- orientation map ---------------------------------------------------------------------------------


def test_default_orientation_map_sends_the_hint_without_seconds() -> None:
    assert dict(DEFAULT_ORIENTATION_MAP) == {
        "16x9": OrientationParams("16x9", None),
        "9x16": OrientationParams("9x16", None),
    }


def test_parse_orientation_map_with_and_without_seconds() -> None:
    assert parse_orientation_map(" 16x9=1280x720:8 , 9x16 = 720x1280 ") == {
        "16x9": OrientationParams("1280x720", "8"),
        "9x16": OrientationParams("720x1280", None),
    }


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("16x9", "orientation=size"),
        ("16x9=", "orientation=size"),
        ("=1280x720", "orientation=size"),
        ("16x9=1280x720,,9x16=720x1280", "empty entry"),
        ("16x9=1280x720:eight", "seconds"),
        ("16x9=1280x720:", "seconds"),
        ("16x9=12 80", "size"),
        ("16x9=a,16x9=b", "twice"),
    ],
)
def test_parse_orientation_map_rejects_bad_text(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_orientation_map(text)


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(request_timeout=0)


# -- Retry-After and backoff -----------------------------------------------------------------------


def test_retry_after_seconds_and_dates() -> None:
    now = datetime(2026, 8, 15, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=42), usegmt=True), now=now) == 42.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=42), usegmt=True), now=now) == 0.0
    for bad in (None, "", "soon", "nan"):
        assert parse_retry_after(bad) is None


def test_backoff_uses_retry_after_capped_else_full_jitter_within_bounds() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0, retry_after_cap=60.0)
    rng = random.Random(3)
    assert backoff_delay(policy, 1, 7.0, rng) == 7.0
    assert backoff_delay(policy, 1, 3600.0, rng) == 60.0
    for failed in range(1, 8):
        ceiling = min(4.0, 0.5 * 2 ** (failed - 1))
        delays = [backoff_delay(policy, failed, None, rng) for _ in range(50)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # jitter spreads over the range rather than sitting at 0
