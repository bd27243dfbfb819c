"""The job store contract: what every ``JobStore`` backend must do, tested once, for every backend.

Every store behaviour the job core relies on (``bot.jobs.ports.JobStore``: transitions and their guards,
claims under the caps, admission under quotas and refunds, delivery and status-message bookkeeping, lists
and counts, settings, audit, usage, meta notes, workspaces kept apart by platform, ids kept verbatim) is
tested here, once, and each test runs against every backend listed in ``conftest.py``. The tests see the
store only through ``db.open_store(url)`` and the ``JobStore`` protocol, never a concrete class: a new
backend (PostgreSQL next) is added by one entry in the ``BACKENDS`` registry and must pass this suite
unchanged. What is particular to one backend (SQLite's pragmas, file mode, indexes and query plans,
migrations, write counters, its connection thread, its one-process lock) is tested beside it, in
``tests/db/sqlite/``, not here.
"""
