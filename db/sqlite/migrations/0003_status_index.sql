-- Counting and listing jobs by state without reading the whole table: the submit queue's counts of jobs
-- at the provider (total, per guild and user), a job's place in its guild's queue, a guild's queue length.
-- The trailing user_id makes the per-guild/per-user count a covering-index read.
CREATE INDEX jobs_status ON jobs (status, guild_id, id, user_id);
