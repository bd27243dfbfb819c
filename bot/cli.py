"""The ``veo-bot`` command line: parse arguments, load settings, start the chosen face."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol

from bot import serve
from bot.config import Settings, SettingsError, settings_from_environment
from bot.database_url import passwords, redact
from bot.jobs.ports import StoreInUse, StoreUnavailable
from bot.mock.provider import missing_mock_extra
from bot.ops import event_loop
from bot.ops.logs import configure_logging

# Bad settings, or a refusal at start (the mock extra missing, the database in use): nothing was started.
EXIT_SETTINGS = 2

# Loaded by name, as the faces are (``bot.serve``): the stores sit above the core.
MIGRATE_MODULE = "db.migrate_command"


class MigrateCommand(Protocol):
    """``veo-bot migrate-db``: copies one database into another and returns the exit code."""

    def main(self, source: str, target: str) -> int: ...


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="veo-bot", description="A chat bot that turns /veo prompts into videos (CometAPI / Google Veo)."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="start the bot in the foreground (stops on SIGINT / SIGTERM)")
    commands.add_parser("sync", help="register the slash commands with Discord now, even if unchanged "
                                     "(Slack's are declared in the app manifest)")
    commands.add_parser("check-config", help="validate the settings and print them (secrets hidden)")
    commands.add_parser(
        "doctor", help="check the settings, database, CometAPI key, and each chat face's tokens, permissions "
                       "and scopes"
    )
    migrate = commands.add_parser(
        "migrate-db", help="copy a SQLite database into a new, empty PostgreSQL database (the bot stopped)",
        description="Copy every table of the SQLite database SOURCE into the empty PostgreSQL database TARGET, "
                    "ids kept, in one transaction: all of it or nothing. Stop the bot first.")
    migrate.add_argument("source", metavar="SOURCE", help="sqlite:///path/to/veo.sqlite3")
    migrate.add_argument("target", metavar="TARGET", help="postgresql://user:password@host:5432/database")
    return parser


def _load_settings() -> Settings | None:
    try:
        return settings_from_environment()
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"veo-bot: {problem}", file=sys.stderr)
        print("veo-bot: see .env.example for every setting.", file=sys.stderr)
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``veo-bot`` console script; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help(sys.stderr)
        return EXIT_SETTINGS
    if args.command == "migrate-db":
        # Needs no settings: both databases are named on the command line. Loaded by name, as the faces are:
        # the stores sit above the core.
        command: MigrateCommand = importlib.import_module(MIGRATE_MODULE)
        return command.main(args.source, args.target)
    settings = _load_settings()
    if settings is None:
        return EXIT_SETTINGS
    # The commands that build the provider; the doctor reports the missing extra among its findings.
    missing = missing_mock_extra(settings.provider) if args.command in ("run", "sync") else None
    if args.command in ("run", "sync", "doctor"):
        missing = missing or serve.missing_face_extra(settings.frontends)
    if missing is not None:
        print(f"veo-bot: {missing}", file=sys.stderr)
        return EXIT_SETTINGS
    secrets = [settings.discord_token.get_secret_value(), settings.cometapi_key.get_secret_value(),
               settings.slack_bot_token.get_secret_value(), settings.slack_app_token.get_secret_value(),
               settings.slack_signing_secret.get_secret_value(), *passwords(settings.database_url)]
    configure_logging(settings.log_level, secrets, settings.log_format)
    if args.command == "check-config":
        for name in [*Settings.model_fields, "frontends"]:
            value = getattr(settings, name)
            shown = redact(value) if name == "database_url" else value
            print(f"{name} = {shown!r}")
        return 0
    try:
        if args.command == "sync":
            return event_loop.run(serve.sync_commands(settings))
        if args.command == "doctor":
            return event_loop.run(serve.doctor(settings))
        return event_loop.run(serve.run(settings))
    except StoreInUse as exc:
        # Raised as the store opens, before anything else starts.
        print(f"veo-bot: {exc}", file=sys.stderr)
        return EXIT_SETTINGS
    except StoreUnavailable as exc:
        print(f"veo-bot: {exc}; {exc.fix}", file=sys.stderr)
        return EXIT_SETTINGS
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    """Run ``main`` and exit with its code."""
    sys.exit(main())
