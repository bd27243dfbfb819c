"""``DATABASE_URL`` text: the backend it names, and its password kept out of what is shown."""

from __future__ import annotations

import pytest

from bot.database_url import is_postgres, is_sqlite, passwords, redact, scrub


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://veo:s3cret@db:5432/veo", "postgresql://veo:***@db:5432/veo"),
        ("postgres://veo:p%40ss:word@db/veo", "postgres://veo:***@db/veo"),
        ("postgresql://veo@db/veo?password=s3cret&sslmode=require",
         "postgresql://veo@db/veo?password=***&sslmode=require"),
        ("postgresql://veo@db/veo", "postgresql://veo@db/veo"),
        ("postgresql://db/veo", "postgresql://db/veo"),
        ("sqlite:///data/veo.sqlite3", "sqlite:///data/veo.sqlite3"),
    ],
)
def test_redact_hides_every_password_and_nothing_else(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_scrub_takes_the_password_out_of_any_text() -> None:
    url = "postgresql://veo:s3cret-pw@db/veo"
    assert passwords(url) == ["s3cret-pw"]
    text = f"could not connect to {url} (password s3cret-pw rejected)"
    assert scrub(text, url) == "could not connect to postgresql://veo:***@db/veo (password *** rejected)"


def test_the_backend_is_told_by_the_scheme() -> None:
    assert is_sqlite("sqlite:///x") and not is_postgres("sqlite:///x")
    assert is_postgres("postgresql://db/veo") and is_postgres("POSTGRES://db/veo") and not is_sqlite("postgres://x")
