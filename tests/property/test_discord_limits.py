"""Every message that shows user text stays within Discord's limits, whatever the text.

Prompts, pause reasons, provider error messages, task ids and usage keys come long, markdown-heavy (escaping
adds a backslash per character) and in many scripts. The payloads are the ones discord.py sends, checked
with the fake Discord's own validator (``tests.fakes.discord.limits``); two end-to-end runs show the fake
accepting the real bot's requests with such text.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import unicodedata
from pathlib import Path
from typing import Any

import discord
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.jobs.admin import UsageLine, UsageReport
from bot.jobs.policy import AuditEntry, Policy, WorkspaceSettings
from bot.jobs.ports import StatusView
from bot.jobs.preferences import MemberPreferences
from bot.jobs.records import Job, JobStatus
from cogs.commands.admin import audit_embed, settings_embed, usage_embed
from cogs.commands.prefer import preferences_embed
from cogs.commands.queue import job_detail_embed, recent_jobs_embed
from cogs.commands.veo import queued_reply
from cogs.direct_messages import ready_dm_text
from cogs.limits import clip
from cogs.notifier import NO_LINK
from cogs.render import excerpt, failure_text, plain, queue_embed, result_text, status_embed
from cogs.views.continuation import prompt_form
from cogs.views.queue_actions import QueueActions
from cogs.views.results import result_buttons
from tests.fakes.comet.api import TaskScript
from tests.fakes.discord.limits import check_message
from tests.fakes.discord.modals import check_modal, text_inputs
from tests.fakes.discord.models import FakeHTTPError, FakeUser
from tests.property.strategies import display_texts, locales, provider_texts
from tests.support.e2e import MEMBER_PERMISSIONS, MODERATOR_PERMISSIONS, World, guild_workspace, running_bot, world

USER = 123456789012345679
NOW = 1_700_000_000.0
MANAGE_GUILD = 1 << 5
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MARKDOWN_PROMPT = "_*~|`" * 60
LONG_REASON = ("**Hết ngân sách** tháng này_ `chờ` ~~nhé~~ || 雪 🦊 ||" * 5)[:200]

texts = display_texts | provider_texts


WHOLE = re.compile(r"<@[!&]?\d+>|<t:-?\d+:R>|\[[^\]\n]*\]\(https?://[^)\s]*\)")


@settings(max_examples=300, deadline=None)
@given(text=texts.map(discord.utils.escape_markdown) | texts, limit=st.integers(1, 300))
def test_clip_keeps_a_clean_start_within_the_limit(text: str, limit: int) -> None:
    out = clip(text, limit)
    assert len(out) <= limit
    if len(text) <= limit:
        assert out == text
        return
    head = out[:-1]
    assert out.endswith("…") and text.startswith(head) and head == head.rstrip()
    assert (len(head) - len(head.rstrip("\\"))) % 2 == 0  # no backslash left escaping the ellipsis
    cut = len(head)
    assert cut == 0 or unicodedata.category(text[cut]) not in ("Mn", "Mc", "Me")
    assert cut == 0 or text[cut - 1] != "\u200d"
    assert not any(m.start() < cut < m.end() for m in WHOLE.finditer(text))


def _job(prompt: str = "a fox", **changes: Any) -> Job:
    job = Job(id=42, platform="discord", workspace_id="1", channel_id="2", user_id=str(USER),
              prompt=prompt, model="veo3.1-fast", orientation="16x9",
              image_count=0, input_dir=None, locale="en-US", status=JobStatus.RUNNING, progress=37, task_id="task_x",
              error=None, safety_rejection=False, video_url=None, attempts=0, polls=3, next_poll_at=None,
              created_at=NOW - 90, submitted_at=NOW - 80, completed_at=None, finished_at=None, status_message_id="7",
              status_rendered=None, status_edited_at=None, delivery_attempts=0, delivered_at=None,
              delivered_message_id=None)
    return dataclasses.replace(job, **changes)


def accepted(*, content: str | None = None, embeds: tuple[discord.Embed, ...] = (),
             view: discord.ui.View | None = None) -> None:
    """Fail with Discord's errors object unless Discord would take this message."""
    body: dict[str, Any] = {}
    if content is not None:
        body["content"] = content
    if embeds:
        body["embeds"] = [e.to_dict() for e in embeds]
    if view is not None:
        body["components"] = view.to_components()
    try:
        check_message(body)
    except FakeHTTPError as error:
        raise AssertionError(f"Discord would refuse it: {error.errors}") from None


def shown_from_start(shown: str, whole: str) -> None:
    """``shown`` is ``whole``, or its start with an ellipsis."""
    assert shown == whole or (shown.endswith("…") and whole.startswith(shown[:-1])), (shown, whole)


@SETTINGS
@given(prompt=texts, reason=texts, error=texts, task_id=texts, locale=locales,
       status=st.sampled_from(list(JobStatus)), safety=st.booleans(), paused=st.booleans())
@example(prompt=MARKDOWN_PROMPT * 10, reason=LONG_REASON, error="_" * 3000, task_id="`" * 2000, locale="vi",
         status=JobStatus.FAILED, safety=True, paused=True)
def test_status_embed_veo_reply_and_status_detail(
    prompt: str, reason: str, error: str, task_id: str, locale: str | None, status: JobStatus, safety: bool,
    paused: bool,
) -> None:
    job = _job(prompt, status=status, error=error or None, safety_rejection=safety, locale=locale,
               task_id=task_id or None, delivered_message_id="9" if status is JobStatus.DELIVERED else None)
    view = StatusView(position=3, quota_used=2, quota_limit=10, paused=paused, pause_reason=reason or None)
    embed = status_embed(job, view, now=NOW)
    accepted(embeds=(embed,))
    shown_from_start(embed.description or "", discord.utils.escape_markdown(prompt))
    accepted(content=queued_reply(job, view, locale), embeds=(status_embed(job, view, locale=locale),))
    accepted(embeds=(job_detail_embed(job, view, now=NOW, locale=locale),))


@SETTINGS
@given(prompt=texts, error=texts, link=st.none() | st.integers(0, 2500).map(lambda n: "https://cdn.example/" + "a" * n),
       locale=locales, timed_out=st.booleans(), safety=st.booleans(), mock=st.booleans())
def test_result_and_failure_messages(
    prompt: str, error: str, link: str | None, locale: str | None, timed_out: bool, safety: bool, mock: bool
) -> None:
    job = _job(prompt, status=JobStatus.COMPLETED, locale=locale, task_id="mock-1" if mock else "task_x")
    buttons = result_buttons(job.id, can_regenerate=True, can_delete=True, can_continue=True, locale=locale)
    accepted(content=result_text(job, link=link), view=buttons)
    accepted(content=result_text(job, link=None, note=NO_LINK), view=buttons)
    failed = dataclasses.replace(job, status=JobStatus.TIMED_OUT if timed_out else JobStatus.FAILED,
                                 error=error or "failed", safety_rejection=safety)
    text = failure_text(failed)
    accepted(content=text, view=result_buttons(job.id, can_regenerate=False, can_delete=False, locale=locale))
    assert text.startswith(f"<@{USER}> ") and "#42" in text  # the mention and the job number are never cut


@SETTINGS
@given(job_id=st.integers(1, 10**18 - 1), max_chars=st.integers(1, 20_000), locale=locales)
def test_continue_form(job_id: int, max_chars: int, locale: str | None) -> None:
    form = prompt_form(_job(id=job_id, status=JobStatus.DELIVERED), max_chars, locale)
    check_modal(form.to_dict())
    [(_, field)] = text_inputs(form.to_dict())
    assert field["max_length"] == min(max_chars, 4000)


@SETTINGS
@given(prompts=st.lists(texts, min_size=1, max_size=10), locale=locales, quota=st.booleans())
def test_status_list(prompts: list[str], locale: str | None, quota: bool) -> None:
    statuses = [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.DELIVERED, JobStatus.FAILED]
    jobs = [_job(p, id=i + 1, status=statuses[i % 4], delivered_message_id=str(100 + i)) for i, p in enumerate(prompts)]
    line = f"Daily quota: {len(prompts)} of 10 videos left today." if quota else ""
    accepted(embeds=(recent_jobs_embed(jobs, list(range(len(jobs))), line, now=NOW, locale=locale),))


@SETTINGS
@given(prompts=st.lists(texts, max_size=30), errors=st.lists(texts, max_size=20), paused=st.booleans(),
       locale=locales)
@example(prompts=[MARKDOWN_PROMPT] * 25, errors=[MARKDOWN_PROMPT] * 20, paused=True, locale="vi")
def test_queue_embed_and_cancel_menu(prompts: list[str], errors: list[str], paused: bool, locale: str | None) -> None:
    in_flight = [_job(p, id=i + 1, user_id=USER + i % 7, status=JobStatus.QUEUED if i % 2 else JobStatus.RUNNING)
                 for i, p in enumerate(prompts)]
    failures = [_job(id=100 + i, status=JobStatus.FAILED, error=e or "failed", finished_at=NOW - 60)
                for i, e in enumerate(errors)]
    view = QueueActions(None, None, in_flight, paused=paused, locale=locale)  # type: ignore[arg-type]
    accepted(embeds=(queue_embed(in_flight, failures, paused=paused, now=NOW, locale=locale),), view=view)
    if in_flight:
        for job, option in zip(in_flight, view.cancel_select.options, strict=False):
            shown_from_start(option.description or "", plain(job.prompt))
            assert option.description == excerpt(job.prompt, 100)


@SETTINGS
@given(entries=st.lists(st.tuples(st.sampled_from(["pause", "set", "cancel", "allowed_models add"]), texts),
                        max_size=20),
       reason=texts, locale=locales)
@example(entries=[("pause", LONG_REASON)] * 20, reason=LONG_REASON, locale="vi")
def test_admin_audit_and_settings(entries: list[tuple[str, str]], reason: str, locale: str | None) -> None:
    audit = [AuditEntry(id=i, platform="discord", workspace_id="1", actor_id=str(USER + i),
                        action=action, details=details, job_id=None,
                        at=NOW - i * 60) for i, (action, details) in enumerate(entries)]
    accepted(embeds=(audit_embed(audit, locale),))
    channels = tuple(str(300000000000000000 + i) for i in range(200))
    overrides = WorkspaceSettings("discord", "1", allowed_channels=channels, allowed_roles=channels, paused=True,
                              pause_reason=reason or None)
    policy = Policy(platform="discord", workspace_id="1", max_active_per_user=2, max_active_per_guild=5, max_queued=20,
                    daily_quota_per_user=10, daily_quota_per_guild=0, cooldown_seconds=0.5,
                    allowed_channels=channels, allowed_roles=channels,
                    models=tuple(f"veo-model_{i}_`{reason[:20]}`" for i in range(30)), paused=True,
                    pause_reason=reason or None)
    accepted(embeds=(settings_embed(overrides, policy, locale),))


@SETTINGS
@given(prompt=texts, model=texts, locale=locales, dm=st.booleans(), orientation=st.sampled_from([None, "16x9", "9x16"]),
       status=st.sampled_from([JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.TIMED_OUT]))
@example(prompt=MARKDOWN_PROMPT * 10, model="m" * 3000, locale="vi", dm=True, orientation=None,
         status=JobStatus.TIMED_OUT)
def test_preferences_direct_message_and_fallback_reply(
    prompt: str, model: str, locale: str | None, dm: bool, orientation: str | None, status: JobStatus
) -> None:
    job = _job(prompt, status=status, locale=locale, delivered_message_id="9", dm_when_ready=dm, model=model or "m")
    text = ready_dm_text(job)
    accepted(content=text)
    assert "#42" in text and "https://discord.com/channels/1/2/9" in text.split("\n")[0]  # never cut
    models = tuple(f"veo-model_{i}_{model[:30]}" for i in range(30))
    for preferred in (None, models[3], model or "gone"):
        preferences = MemberPreferences("discord", "1", str(USER), model=preferred, orientation=orientation,
                                        dm_when_ready=dm, updated_at=NOW)
        policy = Policy(platform="discord", workspace_id="1", max_active_per_user=2, max_active_per_guild=5,
                        max_queued=20, daily_quota_per_user=10, daily_quota_per_guild=0, cooldown_seconds=0.0,
                        allowed_channels=None, allowed_roles=None, models=models, paused=False, pause_reason=None,
                        default_model=models[0])
        accepted(embeds=(preferences_embed(preferences, policy, locale),))
    reply = queued_reply(job, StatusView(position=1), locale, dropped_model=model or "gone")
    accepted(content=reply)


usage_lines = st.builds(UsageLine, key=texts | st.integers(10**17, 10**19).map(lambda i: f"<@{i}>"),
                        jobs=st.integers(0, 10**9), billed_jobs=st.integers(0, 10**9),
                        seconds=st.floats(0, 1e12), cost=st.floats(0, 1e12))


@SETTINGS
@given(members=st.lists(usage_lines, max_size=30), models=st.lists(usage_lines, max_size=30), locale=locales)
@example(members=[UsageLine(f"<@{USER + i}>", 123456, 123456, 987654.0, 98765.43) for i in range(15)],
         models=[], locale="vi")
def test_admin_usage(members: list[UsageLine], models: list[UsageLine], locale: str | None) -> None:
    total = UsageLine("total", sum(m.jobs for m in members), 0, 0.0, 0.0)
    accepted(embeds=(usage_embed(UsageReport("7d", members, models, total), locale),))


# ----- end to end: the fake Discord accepts what the real bot sends -----

PROMPTS = [
    ("Vie\u0323\u0302t Nam _mu\u0300a thu_ `ca\u0300 phê` **đậm** ~~nhạt~~ ||bí mật|| \\ 🦊 " * 40)[:1500],
    ("雪の狐が走る__**`|~" * 100)[:1500],
    ("👨\u200d👩\u200d👧 مرحبا שלום 🇻🇳 [x](https://example.com/a_b) @everyone <@123456789012345678> " * 30)[:1500],
]


def _refused(w: World) -> list[str]:
    return [f"{r.method} {r.path} {r.status}" for r in w.discord.requests if r.status == 400]


async def _answer(w: World, name: str, user: FakeUser, permissions: int, **options: Any) -> Any:
    interaction = await w.discord.invoke_command(name, channel_id=w.channel.id, user=user, options=options,
                                                 permissions=permissions, locale="vi")
    return await interaction.wait_for_response(predicate=lambda m: bool(m.content or m.embeds), timeout=10)


async def test_paused_server_with_long_markdown_prompts_end_to_end(tmp_path: Path) -> None:
    admin = MODERATOR_PERMISSIONS | MANAGE_GUILD
    async with world(tmp_path) as w, running_bot(w) as app:
        w.api.default_script = TaskScript(polls_until_done=10_000)
        for _ in range(10):  # twenty audit entries with long reasons
            await _answer(w, "veo-admin pause", w.moderator, admin, reason=LONG_REASON)
            await _answer(w, "veo-admin resume", w.moderator, admin)
        await _answer(w, "veo-admin pause", w.moderator, admin, reason=LONG_REASON)
        for prompt in PROMPTS:
            interaction = await w.discord.invoke_command("veo", channel_id=w.channel.id, user=w.member,
                                                         options={"prompt": prompt}, permissions=MEMBER_PERMISSIONS,
                                                         locale="vi")
            reply = await interaction.wait_for_response(predicate=lambda m: "#" in m.content, timeout=10)
            assert reply.embeds and "Hết ngân sách" in str(reply.embeds[0]["fields"])
        await w.discord.wait_until(lambda: len([m for m in w.bot_messages() if m.embeds]) == 3, timeout=10)
        queue = await _answer(w, "veo-queue", w.moderator, MODERATOR_PERMISSIONS)
        options = queue.components[0]["components"][0]["options"]
        assert len(options) == 3 and all(len(o["description"]) <= 100 for o in options)
        assert len(queue.embeds[0]["description"]) > 100
        listing = await _answer(w, "veo-status", w.member, MEMBER_PERMISSIONS)
        assert listing.embeds[0]["description"].count("#") >= 3
        detail = await _answer(w, "veo-status", w.member, MEMBER_PERMISSIONS, job="2")
        assert detail.embeds[0]["description"].startswith("雪の狐が走る")
        audit = await _answer(w, "veo-admin audit", w.moderator, admin)
        assert "Hết ngân sách" in audit.embeds[0]["description"]
        settings_reply = await _answer(w, "veo-admin settings", w.moderator, admin)
        assert settings_reply.embeds
        assert len(await app.store.audit_entries(guild_workspace(w.guild.id), 30)) == 21
        assert _refused(w) == []


async def test_many_members_and_a_long_failure_in_vietnamese_end_to_end(tmp_path: Path) -> None:
    async with world(tmp_path) as w, running_bot(w, env={"VEO_MAX_ACTIVE_PER_GUILD": "20"}):
        w.api.default_script = TaskScript(polls_until_done=0)
        members = []
        for index in range(15):
            member = w.discord.add_user(f"thành-viên-{index}")
            w.discord.add_member(w.guild.id, member, permissions=MEMBER_PERMISSIONS)
            members.append(member)
        interactions = await asyncio.gather(*(
            w.discord.invoke_command("veo", channel_id=w.channel.id, user=m, options={"prompt": PROMPTS[i % 3]},
                                     permissions=MEMBER_PERMISSIONS, locale="vi")
            for i, m in enumerate(members)
        ))
        await asyncio.gather(*(i.wait_for_response(predicate=lambda m: "#" in m.content, timeout=20)
                               for i in interactions))
        await w.discord.wait_until(lambda: len(w.results()) == 15 or None, timeout=30)
        w.api.default_script = TaskScript(polls_until_done=0, outcome="failure",
                                          failure_message=("Lỗi _không_ xác định `x` **y** " * 60)[:1500])
        failing = await w.discord.invoke_command("veo", channel_id=w.channel.id, user=w.member,
                                                 options={"prompt": PROMPTS[0]}, permissions=MEMBER_PERMISSIONS,
                                                 locale="vi")
        await failing.wait_for_response(predicate=lambda m: "#" in m.content, timeout=10)
        await w.discord.wait_until(lambda: len(w.results()) == 16 or None, timeout=20)
        usage = await _answer(w, "veo-admin usage", w.moderator, MODERATOR_PERMISSIONS | MANAGE_GUILD, period="today")
        [per_member] = [f for f in usage.embeds[0]["fields"] if f["name"] == "Theo thành viên"]
        assert 0 < len(per_member["value"]) <= 1024
        assert per_member["value"].count("<@") == 15 or "mục khác" in per_member["value"]
        assert _refused(w) == []
