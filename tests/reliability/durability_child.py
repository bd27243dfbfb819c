"""Child process of the durability test: commits job steps through the real store as fast as it can and
prints each one after its commit returned, until it is killed. Usage: python -m ... DB_PATH START"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.jobs.records import Limits, NewJob
from db.sqlite.store import SqliteJobStore

LIMITS = Limits(per_user=1000, per_guild=1000, total=1000)


async def main(path: Path, start: int) -> None:
    store = await SqliteJobStore.open(path)
    n = start
    while True:
        job = await store.insert_job(NewJob(platform="discord", workspace_id="1", channel_id="2", user_id="3",
                                            prompt=f"durable {n}",
                                            model="veo3.1-fast", orientation="16x9"), float(n))
        print(f"inserted {job.id} {n}", flush=True)
        for claimed in await store.claim_submittable(LIMITS, float(n), float(n) + 60, 10):
            print(f"claimed {claimed.id}", flush=True)
            if await store.mark_submitted(claimed.id, f"task_{claimed.id}", float(n), float(n) + 10):
                print(f"submitted {claimed.id}", flush=True)
        n += 1


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
