"""``describe``: what ``veo-bot doctor`` shows of the database: the engine, its version, the schema version."""

from __future__ import annotations

import re

from bot.jobs.ports import JobStore
from tests.db.contract.conftest import Backend


async def test_the_store_names_its_engine_version_and_schema_version(store: JobStore, backend: Backend) -> None:
    described = await store.describe()
    engine = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[backend.name]
    assert re.fullmatch(rf"{engine} \d+\.\d+\S*( \(.*\))?, schema version [1-9]\d*", described), described
