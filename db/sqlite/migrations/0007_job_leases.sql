-- Job leases: the worker step under way on a job belongs to one owner (a process) at a time. While a job is
-- leased, next_poll_at is when its lease runs out (renewed by the owner's heartbeat), so a dead owner's jobs
-- fall due to whoever ticks next. lease_token is bumped by every claim: a write carrying an older token is
-- refused (the fencing token).

ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
