"""The claim of due jobs reads only what it claims, through indexes, never the whole jobs table (which keeps every
finished job), even with a backlog of due jobs: joined to its locked rows, the update read the whole table then."""

from __future__ import annotations

import json

import asyncpg
import pytest

from db.postgres.store import CLAIM_DUE, PostgresJobStore
from tests.db.contract.helpers import T0
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.postgres

# The benchmark's poll loop fallen behind: 10,000 jobs in flight, all due, beside 500 finished ones. With this
# backlog the old statement's plan read the whole table (a sequential scan and a hash join) on every claim.
FINISHED, DUE = 500, 10_000


def _nodes(plan: dict[str, object]) -> list[dict[str, object]]:
    found = [plan]
    for child in plan.get("Plans", []):  # type: ignore[union-attr]
        found.extend(_nodes(child))
    return found


async def test_claiming_due_jobs_never_reads_the_whole_table(postgres_server: PostgresServer) -> None:
    async with postgres_server.database() as url:
        store = await PostgresJobStore.open(url)
        await store.close()
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "INSERT INTO jobs (platform, workspace_id, channel_id, user_id, prompt, model, orientation, status,"
                " created_at, next_poll_at) SELECT 'discord', '1', '1', '2', 'p', 'veo3.1-fast', '16x9',"
                " CASE WHEN n <= $1::int THEN 'delivered' ELSE 'running' END, $3::double precision + n,"
                " CASE WHEN n <= $1::int THEN NULL ELSE $3::double precision + n END"
                " FROM generate_series(1, $1::int + $2::int) AS n", FINISHED, DUE, T0)
            await conn.execute("ANALYZE jobs")
            now = T0 + FINISHED + DUE + 1
            # EXPLAIN ANALYZE runs the claim: the plan it shows is the one taken (the database is thrown away after).
            plan = json.loads(await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {CLAIM_DUE}",
                                                  "owner", now, now + 60, 100))[0]["Plan"]
            nodes = _nodes(plan)
            scans = {(n["Node Type"], n.get("Index Name")) for n in nodes if "Scan" in str(n["Node Type"])}
            assert not any(kind == "Seq Scan" for kind, _ in scans), scans
            assert ("Index Scan", "jobs_due") in scans, scans
            assert plan["Actual Rows"] == 100  # it claimed a batch
        finally:
            await conn.close()
