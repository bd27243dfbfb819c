"""Translations: every user-facing template exists in Korean and Vietnamese with the same placeholders."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import discord
import pytest
from discord import app_commands

import bot.jobs.errors
import bot.jobs.provider
from bot.i18n import LANGUAGES, catalogue, language, placeholders, tr
from cogs.commands.admin import AdminCog
from cogs.commands.prefer import PreferCog
from cogs.commands.queue import QueueCog
from cogs.commands.veo import VeoCog

ROOT = Path(__file__).resolve().parents[2]
# Discord's rule for command and option names (lower case where the script has case).
NAME_RE = re.compile(r"^[-_\w]{1,32}$")


def _error_classes() -> set[str]:
    names: set[str] = set()
    pending: list[type] = [bot.jobs.errors.UserFacingError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    assert bot.jobs.provider.VideoApiError.__name__ in names
    return names


def code_templates() -> dict[str, str]:
    """Every template the code shows users: tr()/msg() literals, error messages, default messages."""
    errors = _error_classes()
    found: dict[str, str] = {}
    for folder in ("bot", "cogs", "slack"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
                if isinstance(node, ast.Call) and node.args:
                    func = node.func
                    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                    first = node.args[0]
                    if name in ("tr", "msg") or name in errors:
                        if isinstance(first, ast.Constant) and isinstance(first.value, str):
                            found.setdefault(first.value, where)
                        elif isinstance(first, ast.JoinedStr):
                            found.setdefault(f"<f-string at {where}>", where)
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and any(
                    isinstance(t, ast.Name) and t.id == "default_message" for t in node.targets
                ) and isinstance(node.value.value, str):
                    found.setdefault(node.value.value, where)
    return found


def command_names() -> set[str]:
    """Names of every slash command, subcommand and option (Discord restricts their spelling)."""
    names = {AdminCog.__cog_group_name__}  # type: ignore[attr-defined]
    for command in _commands():
        names.add(command.name)
        if isinstance(command, app_commands.Command):
            names.update(param.name for param in command.parameters)
    return names


def command_strings() -> set[str]:
    """Names, descriptions and choice names of every slash command and option."""
    strings = set(command_names()) | {AdminCog.__cog_group_description__}  # type: ignore[attr-defined]
    for command in _commands():
        strings.add(command.description)
        if isinstance(command, app_commands.Command):
            for param in command.parameters:
                strings.add(param.description)
                strings.update(choice.name for choice in param.choices)
    return {s for s in strings if s}


def _commands() -> list[app_commands.Command | app_commands.Group]:
    commands: list[app_commands.Command | app_commands.Group] = []
    for cog in (VeoCog, PreferCog, QueueCog, AdminCog):
        commands.extend(cog.__cog_app_commands__)  # type: ignore[attr-defined]
    return commands


def test_no_fstring_templates() -> None:
    bad = [t for t in code_templates() if t.startswith("<f-string")]
    assert bad == [], "format user-facing text with {placeholders} and params, not f-strings"


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_every_template_is_translated(lang: str) -> None:
    needed = set(code_templates()) | command_strings()
    missing = sorted(needed - set(catalogue(lang)))
    assert missing == [], f"{len(missing)} texts missing from bot/locales/{lang}.json"


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_placeholders_match_and_nothing_is_stale(lang: str) -> None:
    needed = set(code_templates()) | command_strings()
    entries = catalogue(lang)
    assert sorted(set(entries) - needed) == [], "translations of texts the code no longer uses"
    mismatched = [k for k, v in entries.items() if placeholders(k) != placeholders(v)]
    assert mismatched == []
    empty = [k for k, v in entries.items() if not v.strip()]
    assert empty == []


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_command_names_follow_discords_rules(lang: str) -> None:
    names = command_names()
    for text in command_strings():
        translated = catalogue(lang)[text]
        if text in names:
            assert NAME_RE.match(translated) and translated == translated.lower(), (text, translated)
        else:
            assert 1 <= len(translated) <= 100, (text, translated)
    assert "…" not in command_strings(), "every option needs a description"


def test_locale_selection_and_fallback() -> None:
    assert language(discord.Locale.korean) == "ko" and language("vi") == "vi"
    assert language("en-GB") == language("fr") == language(None) == "en"
    assert tr("{n} min", "ko", n=3) != "3 min" and tr("{n} min", "fr", n=3) == "3 min"
    assert tr("unknown text {x}", "vi", x=1) == "unknown text 1"


async def test_commands_are_registered_in_three_languages_and_answer_in_the_users(tmp_path: Path) -> None:
    from tests.fakes.comet.api import TaskScript
    from tests.support.e2e import MEMBER_PERMISSIONS, running_bot, world

    async with world(tmp_path) as w, running_bot(w):
        registered = {c["name"]: c for c in w.discord.commands(w.guild.id)}
        status = registered["veo-status"]
        assert status["name_localizations"] == {"ko": "veo-상태", "vi": "veo-trạng-thái"}
        assert status["description_localizations"]["ko"] == catalogue("ko")[status["description"]]
        prompt = next(o for o in registered["veo"]["options"] if o["name"] == "prompt")
        assert prompt["name_localizations"]["vi"] == "mô-tả"
        # A Korean member gets the refusal in Korean.
        interaction = await w.discord.invoke_command("veo", channel_id=w.channel.id, user=w.member,
                                                     options={"prompt": " "}, permissions=MEMBER_PERMISSIONS,
                                                     locale="ko")
        reply = await interaction.wait_for_response(predicate=lambda m: bool(m.content))
        assert reply.content == catalogue("ko")[
            "The prompt is empty. Describe the video you want, e.g. `a red fox running through snow`."]
        # A Vietnamese member's job: the channel messages are in Vietnamese.
        w.api.default_script = TaskScript(polls_until_done=0)
        interaction = await w.discord.invoke_command("veo", channel_id=w.channel.id, user=w.member,
                                                     options={"prompt": "a fox"}, permissions=MEMBER_PERMISSIONS,
                                                     locale="vi")
        await interaction.wait_for_response(predicate=lambda m: "Công việc #1" in m.content)
        [result] = await w.discord.wait_until(lambda: w.results() or None, timeout=10)
        assert "video của bạn đã xong (công việc #1)" in result.content
        assert [c["label"] for row in result.components for c in row["components"]] == ["Tạo lại", "Làm tiếp", "Xóa"]
