-- The jobs table: everything needed to finish a job after a restart, and the bot's own key/value notes.
CREATE TABLE jobs (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id             INTEGER NOT NULL,
    channel_id           INTEGER NOT NULL,
    user_id              INTEGER NOT NULL,
    prompt               TEXT    NOT NULL,
    model                TEXT    NOT NULL,
    orientation          TEXT    NOT NULL,
    image_count          INTEGER NOT NULL DEFAULT 0 CHECK (image_count BETWEEN 0 AND 2),
    input_dir            TEXT,
    locale               TEXT,
    status               TEXT    NOT NULL CHECK (status IN ('queued', 'submitting', 'submitted', 'running',
                                     'completed', 'delivered', 'failed', 'cancelled', 'timed_out')),
    progress             INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    task_id              TEXT UNIQUE,
    error                TEXT,
    safety_rejection     INTEGER NOT NULL DEFAULT 0,
    video_url            TEXT,
    attempts             INTEGER NOT NULL DEFAULT 0,
    polls                INTEGER NOT NULL DEFAULT 0,
    next_poll_at         REAL,
    created_at           REAL    NOT NULL,
    submitted_at         REAL,
    completed_at         REAL,
    finished_at          REAL,
    status_message_id    INTEGER,
    status_rendered      TEXT,
    status_edited_at     REAL,
    delivery_attempts    INTEGER NOT NULL DEFAULT 0,
    delivered_at         REAL,
    delivered_message_id INTEGER
);

-- The poller's hot query: rows with work due, soonest first. Rows with nothing to do have NULL.
CREATE INDEX jobs_due ON jobs (next_poll_at) WHERE next_poll_at IS NOT NULL;

-- The submit queue in FIFO order, and the per-user / per-guild in-flight counts.
CREATE INDEX jobs_in_flight_user ON jobs (user_id, status)
    WHERE status IN ('queued', 'submitting', 'submitted', 'running');
CREATE INDEX jobs_in_flight_guild ON jobs (guild_id, status)
    WHERE status IN ('queued', 'submitting', 'submitted', 'running');
CREATE INDEX jobs_queue ON jobs (id) WHERE status = 'queued';

-- A user's recent jobs, and a guild's recent failures.
CREATE INDEX jobs_user_recent ON jobs (guild_id, user_id, id);
CREATE INDEX jobs_guild_finished ON jobs (guild_id, finished_at);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
