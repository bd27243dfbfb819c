"""A connection given back to the store's pool costs no reset statement at the server, and still comes back out of
any transaction it was left in."""

from __future__ import annotations

from typing import Any

import pytest

from db.postgres.store import PostgresJobStore
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.postgres


async def test_a_released_connection_sends_no_reset_and_is_rolled_back(postgres_server: PostgresServer) -> None:
    async with postgres_server.database() as url:
        store = await PostgresJobStore.open(url)
        try:
            sent: list[str] = []
            pool = store._pool
            async with pool.acquire() as conn:
                conn.add_query_logger(lambda record: sent.append(record.query))
                raw: Any = conn._con  # the connection itself: it keeps the logger across releases
                # Left inside a transaction that nothing closes (as a cancelled call might leave it).
                await conn.execute("BEGIN")
                await conn.execute("SELECT 1")
            assert not raw.is_in_transaction()  # rolled back on release
            assert "ROLLBACK" in sent
            sent.clear()
            async with pool.acquire() as conn:
                assert conn._con is raw  # the same connection, handed out again
                await conn.fetchval("SELECT 2")
            await store.count_by_status()
            # The statements run, and no reset query (RESET ALL, UNLISTEN *, advisory unlock) after any of them.
            assert sent and not [q for q in sent if "RESET ALL" in q or "UNLISTEN" in q or "unlock_all" in q], sent
        finally:
            await store.close()
