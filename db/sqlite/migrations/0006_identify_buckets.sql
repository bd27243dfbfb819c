-- Gateway identify buckets (a shard's bucket is shard_id % max_concurrency): when the last session of
-- each was allowed to identify, so that processes sharing the database space their identifies as
-- Discord allows (one per bucket per 5 seconds).

CREATE TABLE identify_buckets (
    bucket      INTEGER PRIMARY KEY,
    identify_at REAL NOT NULL   -- the latest moment booked for an identify of this bucket
);
