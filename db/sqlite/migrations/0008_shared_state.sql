-- State that several processes (on several machines) share through the database instead of the local disk.
--
-- job_images: a queued job's input images (first frame, last frame), written in the same transaction as the job
-- row, so whichever process submits the job can read them; deleted once the job has been sent or has ended.
-- Jobs from before this migration keep their images in files under jobs.input_dir (read when no row is here).
--
-- process_leases: named leases on work that one process at a time may do (a chore, a gateway shard). The holder
-- renews it before expires_at; token grows with every new holder (a fencing token). A released lease keeps its
-- row (owner empty, expired), so the token never goes back.

CREATE TABLE job_images (
    job_id       INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('first', 'last')),
    content_type TEXT NOT NULL,
    filename     TEXT NOT NULL,
    data         BLOB NOT NULL,
    PRIMARY KEY (job_id, kind)
);

CREATE TABLE process_leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    token      INTEGER NOT NULL,
    expires_at REAL NOT NULL
);
