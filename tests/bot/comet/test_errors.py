"""Tests for the video-API exception classes, error_from_response and sanitize_provider_message."""

from __future__ import annotations

import json

import pytest

from bot.comet.errors import error_from_response, is_safety_message, sanitize_provider_message
from bot.jobs.errors import UserFacingError
from bot.jobs.provider import (
    DownloadFailed,
    InvalidProviderResponse,
    ProviderBusy,
    ProviderConfigError,
    ProviderRejected,
    SafetyRejected,
    SubmissionUncertain,
    TaskNotFound,
    VideoApiError,
    VideoTooLarge,
)

KEY = "sk-live-0123456789abcdefSECRET"


def envelope(message: str, code: str = "", etype: str = "comet_api_error") -> bytes:
    return json.dumps({"error": {"message": message, "type": etype, "param": "", "code": code}}).encode()


# -- classes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "retryable"),
    [
        (ProviderConfigError, False),
        (ProviderRejected, False),
        (SafetyRejected, False),
        (ProviderBusy, True),
        (SubmissionUncertain, False),
        (TaskNotFound, False),
        (InvalidProviderResponse, True),
        (DownloadFailed, True),
        (VideoTooLarge, False),
    ],
)
def test_every_error_is_user_facing_with_a_retry_flag(cls: type[VideoApiError], retryable: bool) -> None:
    err = cls()
    assert isinstance(err, VideoApiError)
    assert isinstance(err, UserFacingError)
    assert cls.retryable is retryable
    assert err.user_message == cls.default_message
    assert err.user_message.endswith(".")


def test_subclass_relations() -> None:
    assert issubclass(SafetyRejected, ProviderRejected)
    assert issubclass(VideoTooLarge, DownloadFailed)


def test_misconfiguration_and_uncertain_messages_say_what_to_do() -> None:
    assert "misconfigured" in ProviderConfigError().user_message
    assert "admin" in ProviderConfigError().user_message
    uncertain = SubmissionUncertain().user_message
    assert "not resent" in uncertain and "twice" in uncertain


def test_detail_is_kept_for_the_log_and_status_on_the_error() -> None:
    err = ProviderBusy(detail="HTTP 503", status=503)
    assert str(err) == "HTTP 503"
    assert err.status == 503
    assert err.user_message == ProviderBusy.default_message


# -- sanitize_provider_message ---------------------------------------------------------------------


def test_sanitize_removes_request_ids_in_all_spellings() -> None:
    assert sanitize_provider_message("Bad prompt (request id: 2026081512000012345)") == "Bad prompt"
    assert sanitize_provider_message("Bad (Request ID: abc-1) prompt") == "Bad prompt"
    assert sanitize_provider_message("无效的令牌 (request id: B20260101)") == "无效的令牌"
    assert sanitize_provider_message("oops request_id=xyz123 happened") == "oops happened"


def test_sanitize_removes_secrets_passed_and_token_shapes() -> None:
    text = f"Invalid key {KEY} for Bearer abc.def and sk-otherkey12345678"
    out = sanitize_provider_message(text, secrets=[KEY, ""])
    assert KEY not in out
    assert "abc.def" not in out
    assert "sk-otherkey12345678" not in out
    assert out.count("[redacted]") == 3


def test_sanitize_strips_control_characters_and_collapses_whitespace() -> None:
    assert sanitize_provider_message("a\x00b\r\n\tc\u202e  d\x1b[31m ") == "a b c d [31m"


def test_sanitize_truncates_long_messages() -> None:
    out = sanitize_provider_message("word " * 200)
    assert len(out) <= 300
    assert out.endswith("…")


@pytest.mark.parametrize(
    "text",
    [
        "Your prompt was blocked by our safety system",
        "The request violates our content policy",
        "moderation_blocked",
        "Veo could not generate videos because the input image violates the usage guidelines",
        "NSFW content detected",
        "public_error_unsafe_generation",
        "prohibited content",
        "Sensitive content",
    ],
)
def test_safety_keywords_are_detected(text: str) -> None:
    assert is_safety_message(text)


@pytest.mark.parametrize("text", ["Invalid size 99x99", "prompt is required", "model not found", ""])
def test_ordinary_messages_are_not_safety(text: str) -> None:
    assert not is_safety_message(text, None, "invalid_request")


# -- error_from_response ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_are_configuration_errors(status: int) -> None:
    err = error_from_response(status, envelope(f"Invalid token {KEY} (request id: 1)"), "application/json",
                              secrets=[KEY])
    assert type(err) is ProviderConfigError
    assert err.status == status
    assert KEY not in err.user_message and KEY not in str(err)


def test_400_is_a_rejection_with_the_sanitised_provider_message() -> None:
    err = error_from_response(400, envelope("invalid size 99x99 (request id: 20260101)", "invalid_request"),
                              "application/json")
    assert type(err) is ProviderRejected
    assert err.user_message == "The video service rejected the request: invalid size 99x99"
    assert not err.retryable


def test_400_safety_message_is_a_safety_rejection_with_a_hint() -> None:
    err = error_from_response(400, envelope("Prompt blocked by the safety filter (request id: x)"),
                              "application/json")
    assert type(err) is SafetyRejected
    assert "safety filter" in err.user_message
    assert "Prompt blocked by the safety filter" in err.user_message
    assert "rephras" in err.user_message
    assert "request id" not in err.user_message


def test_safety_detected_from_the_code_alone() -> None:
    err = error_from_response(400, envelope("request refused", code="content_policy_violation"), None)
    assert type(err) is SafetyRejected


def test_500_with_invalid_request_code_is_a_rejection_not_busy() -> None:
    err = error_from_response(500, envelope("model veo9 not supported", code="invalid_request"), "application/json")
    assert type(err) is ProviderRejected
    assert "model veo9 not supported" in err.user_message


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 524])
def test_transient_statuses_are_busy(status: int) -> None:
    err = error_from_response(status, envelope("upstream error"), "application/json")
    assert type(err) is ProviderBusy
    assert err.retryable


def test_html_5xx_page_from_a_proxy_is_busy_not_config() -> None:
    err = error_from_response(502, b"<html><body>502 Bad Gateway</body></html>", "text/html")
    assert type(err) is ProviderBusy


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_configuration_errors(status: int) -> None:
    assert type(error_from_response(status, b"", None)) is ProviderConfigError


@pytest.mark.parametrize(("status", "ctype"), [(200, "text/html"), (404, "text/html"), (400, "text/html")])
def test_html_where_json_was_expected_is_a_configuration_error(status: int, ctype: str) -> None:
    err = error_from_response(status, "<!DOCTYPE html><html>nginx</html>", ctype)
    assert type(err) is ProviderConfigError
    assert "nginx" not in err.user_message


def test_plain_text_404_means_a_wrong_base_url() -> None:
    assert type(error_from_response(404, "404 page not found", "text/plain")) is ProviderConfigError


def test_json_404_is_task_not_found() -> None:
    err = error_from_response(404, envelope("task not found", "not_found"), "application/json")
    assert type(err) is TaskNotFound
    assert not err.retryable


def test_plain_text_400_is_a_rejection_that_does_not_echo_the_body() -> None:
    err = error_from_response(400, "bad\x00 request\n(request id: 9)", "text/plain")
    assert type(err) is ProviderRejected
    assert err.user_message == ProviderRejected.default_message
    assert "bad request" in (err.detail or "")  # the operator's log still gets a sanitised snippet


def test_json_2xx_handed_over_is_an_invalid_response() -> None:
    assert type(error_from_response(200, b'{"object": "video"}', "application/json")) is InvalidProviderResponse


@pytest.mark.parametrize(
    "body",
    [b'{"error": "plain string error"}', b'{"message": "top-level message"}', b"[1, 2]", b'{"error": 5}', b""],
)
def test_odd_json_shapes_still_map_to_a_rejection(body: bytes) -> None:
    err = error_from_response(400, body, "application/json")
    assert isinstance(err, ProviderRejected)
    assert "{" not in err.user_message


def test_raw_body_never_reaches_the_user_message() -> None:
    body = json.dumps({"error": {"message": "", "type": "x", "code": ""}, "debug": "internal-trace-123"})
    err = error_from_response(400, body, "application/json")
    assert "internal-trace-123" not in err.user_message
    assert err.user_message == ProviderRejected.default_message


def test_absurdly_nested_json_does_not_escape_as_another_exception() -> None:
    err = error_from_response(400, "[" * 200_000, "application/json")
    assert type(err) is ProviderRejected
    assert err.user_message == ProviderRejected.default_message
    assert len(err.detail or "") < 400
