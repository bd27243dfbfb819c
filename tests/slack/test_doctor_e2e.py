"""``veo-bot doctor`` with the Slack face, against the fake Slack: token, scopes (a missing one says to
reinstall), the Socket Mode token, and the bot's membership of the allowed channels."""

from __future__ import annotations

from pathlib import Path

from bot.config import load_settings
from bot.serve import doctor
from tests.slack.support import running_slack, slack_world


async def _doctor(env: dict[str, str]) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = await doctor(load_settings({**env, "VEO_PROVIDER": "mock"}), out=lines.append)
    return code, "\n".join(lines).splitlines()


async def test_doctor_passes_on_a_good_install(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w:
        code, lines = await _doctor(w.env())
        assert any("slack token" in line and "[ ok ]" in line for line in lines), lines
        assert any("slack scopes" in line and "[ ok ]" in line for line in lines), lines
        assert any("slack socket mode" in line and "[ ok ]" in line for line in lines), lines
        assert code == 0, lines
        assert not any(w.slack.bot_token in line or w.slack.app_token in line for line in lines)


async def test_doctor_names_missing_scopes_bad_tokens_and_channels_without_the_bot(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as w:
        outside = w.slack.add_channel("outside", bot_member=False)
        async with running_slack(w) as process:
            await process.runtime.admin.change_list(w.workspace, w.admin.id, "allowed_channels", "add", outside.id)
        w.slack.team.scopes.discard("files:write")
        code, lines = await _doctor({**w.env(), "SLACK_APP_TOKEN": "xapp-1-not-a-token"})
        text = "\n".join(lines)
        assert code == 1
        assert "the bot token lacks: files:write" in text and "needs a reinstall" in text
        assert "Slack refused SLACK_APP_TOKEN" in text
        assert f"slack channel {outside.id}: the bot is not in this allowed channel" in text
        code, lines = await _doctor({**w.env(), "SLACK_BOT_TOKEN": "xoxb-not-a-token"})
        assert code == 1 and any("Slack refused SLACK_BOT_TOKEN (invalid_auth)" in line for line in lines)
