"""``veo-bot migrate-db SOURCE TARGET``: the copy of ``db.migrate`` with its lines for the operator.

Exit codes: 0 copied; 1 refused or failed (a bot running on the source, a source not at the latest migration, a
non-empty or unreachable target; nothing was written); 2 usage errors (wrong schemes, the same URL twice, a
missing source file, asyncpg not installed), as the rest of the command line.
"""

from __future__ import annotations

import sys

from bot.database_url import passwords
from bot.jobs.ports import StoreUnavailable
from bot.ops import event_loop

EXIT_REFUSED = 1
EXIT_USAGE = 2


def _say(text: str, *secrets: str) -> None:
    for secret in secrets:
        text = text.replace(secret, "***")
    print(f"veo-bot: {text}", file=sys.stderr)


def main(source: str, target: str) -> int:
    """Copy ``source`` into ``target``, printing the counts per table and the time taken; the exit code."""
    secrets = [*passwords(source), *passwords(target)]
    try:
        from db.migrate import BadArguments, MigrationRefused, copy_database
    except ImportError:
        _say("migrate-db needs asyncpg to reach PostgreSQL: pip install 'veo-bot[postgres]'")
        return EXIT_USAGE

    def progress(table: str, rows: int) -> None:
        print(f"  {table}: {rows} rows…", flush=True)

    try:
        report = event_loop.run(copy_database(source, target, progress))
    except BadArguments as exc:
        _say(str(exc), *secrets)
        return EXIT_USAGE
    except MigrationRefused as exc:
        _say(f"{exc}; nothing was written", *secrets)
        return EXIT_REFUSED
    except StoreUnavailable as exc:
        _say(f"{exc}; nothing was written; {exc.fix}", *secrets)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        _say("interrupted; nothing was written")
        return 130
    print("Copied:")
    width = max((len(t.name) for t in report.tables), default=0)
    for table in report.tables:
        print(f"  {table.name:<{width}}  {table.rows} rows")
    for name, last in sorted(report.sequences.items()):
        print(f"  next {name} id: {last + 1}")
    print(f"in {report.seconds:.1f} s. Now point DATABASE_URL at the PostgreSQL database and start the bot; "
          "keep the SQLite file as a backup.")
    return 0
