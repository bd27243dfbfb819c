-- Records for any chat platform: each job, workspace's settings and audit entry names its platform
-- ('discord', 'slack'), and ids from chat platforms are opaque text (Discord's snowflakes as decimal text,
-- Slack's ids and message timestamps as they are). A guild is a workspace. SQLite cannot change a column's
-- type, so the three tables are rebuilt; every row existing so far is Discord's.

CREATE TABLE jobs_new (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    platform             TEXT    NOT NULL,
    workspace_id         TEXT    NOT NULL,
    channel_id           TEXT    NOT NULL,
    user_id              TEXT    NOT NULL,
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
    status_message_id    TEXT,
    status_rendered      TEXT,
    status_edited_at     REAL,
    delivery_attempts    INTEGER NOT NULL DEFAULT 0,
    delivered_at         REAL,
    delivered_message_id TEXT,
    refunded             INTEGER NOT NULL DEFAULT 0
);

INSERT INTO jobs_new (
    id, platform, workspace_id, channel_id, user_id, prompt, model, orientation, image_count, input_dir, locale,
    status, progress, task_id, error, safety_rejection, video_url, attempts, polls, next_poll_at, created_at,
    submitted_at, completed_at, finished_at, status_message_id, status_rendered, status_edited_at,
    delivery_attempts, delivered_at, delivered_message_id, refunded)
SELECT
    id, 'discord', CAST(guild_id AS TEXT), CAST(channel_id AS TEXT), CAST(user_id AS TEXT), prompt, model,
    orientation, image_count, input_dir, locale, status, progress, task_id, error, safety_rejection, video_url,
    attempts, polls, next_poll_at, created_at, submitted_at, completed_at, finished_at,
    CAST(status_message_id AS TEXT), status_rendered, status_edited_at, delivery_attempts, delivered_at,
    CAST(delivered_message_id AS TEXT), refunded
FROM jobs;

-- Job numbers are never reused (message nonces and links name them): carry the counter over, even past
-- jobs that no longer exist.
UPDATE sqlite_sequence SET seq = MAX(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'jobs'))
    WHERE name = 'jobs_new';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'jobs_new', seq FROM sqlite_sequence
    WHERE name = 'jobs' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'jobs_new');
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;

-- The poller's hot query: rows with work due, soonest first. Rows with nothing to do have NULL.
CREATE INDEX jobs_due ON jobs (next_poll_at) WHERE next_poll_at IS NOT NULL;
-- The submit queue in FIFO order, and the per-user / per-workspace in-flight counts.
CREATE INDEX jobs_in_flight_user ON jobs (user_id, status)
    WHERE status IN ('queued', 'submitting', 'submitted', 'running');
CREATE INDEX jobs_in_flight_workspace ON jobs (workspace_id, platform, status)
    WHERE status IN ('queued', 'submitting', 'submitted', 'running');
CREATE INDEX jobs_queue ON jobs (id) WHERE status = 'queued';
-- A member's recent jobs, and a workspace's recent failures.
CREATE INDEX jobs_user_recent ON jobs (workspace_id, platform, user_id, id);
CREATE INDEX jobs_workspace_finished ON jobs (workspace_id, platform, finished_at);
-- Quota counts: a member's (and a workspace's) jobs since the start of the UTC day.
CREATE INDEX jobs_user_created ON jobs (workspace_id, platform, user_id, created_at);
CREATE INDEX jobs_workspace_created ON jobs (workspace_id, platform, created_at);
-- Counting and listing jobs by state: the submit queue's counts of jobs at the provider (total, per workspace
-- and member), a job's place in its workspace's queue, a queue's length. The trailing user_id makes the
-- per-workspace/per-member count a covering-index read.
CREATE INDEX jobs_status ON jobs (status, workspace_id, platform, id, user_id);

-- A workspace's overrides of the bot's limits; allow-lists are JSON lists of text ids.
CREATE TABLE workspace_settings (
    platform              TEXT    NOT NULL,
    workspace_id          TEXT    NOT NULL,
    max_active_per_user   INTEGER,
    max_active_per_guild  INTEGER,
    max_queued            INTEGER,
    daily_quota_per_user  INTEGER,
    daily_quota_per_guild INTEGER,
    cooldown_seconds      REAL,
    allowed_channels      TEXT,   -- JSON list of ids; NULL = every channel
    allowed_roles         TEXT,   -- JSON list of ids (roles, user groups); NULL = every member
    allowed_models        TEXT,   -- JSON list of names; NULL = every configured model
    paused                INTEGER NOT NULL DEFAULT 0,
    pause_reason          TEXT,
    updated_at            REAL,
    updated_by            TEXT,
    PRIMARY KEY (platform, workspace_id)
);

INSERT INTO workspace_settings (
    platform, workspace_id, max_active_per_user, max_active_per_guild, max_queued, daily_quota_per_user,
    daily_quota_per_guild, cooldown_seconds, allowed_channels, allowed_roles, allowed_models, paused,
    pause_reason, updated_at, updated_by)
SELECT
    'discord', CAST(guild_id AS TEXT), max_active_per_user, max_active_per_guild, max_queued,
    daily_quota_per_user, daily_quota_per_guild, cooldown_seconds,
    CASE WHEN allowed_channels IS NULL THEN NULL ELSE
        (SELECT json_group_array(CAST(value AS TEXT)) FROM json_each(guild_settings.allowed_channels)) END,
    CASE WHEN allowed_roles IS NULL THEN NULL ELSE
        (SELECT json_group_array(CAST(value AS TEXT)) FROM json_each(guild_settings.allowed_roles)) END,
    allowed_models, paused, pause_reason, updated_at, CAST(updated_by AS TEXT)
FROM guild_settings;
DROP TABLE guild_settings;

CREATE TABLE audit_log_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    platform     TEXT    NOT NULL,
    workspace_id TEXT    NOT NULL,
    actor_id     TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    details      TEXT    NOT NULL DEFAULT '',
    job_id       INTEGER,
    at           REAL    NOT NULL
);
INSERT INTO audit_log_new (id, platform, workspace_id, actor_id, action, details, job_id, at)
SELECT id, 'discord', CAST(guild_id AS TEXT), CAST(actor_id AS TEXT), action, details, job_id, at FROM audit_log;
UPDATE sqlite_sequence SET seq = MAX(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'))
    WHERE name = 'audit_log_new';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'audit_log_new', seq FROM sqlite_sequence
    WHERE name = 'audit_log' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'audit_log_new');
DROP TABLE audit_log;
ALTER TABLE audit_log_new RENAME TO audit_log;
CREATE INDEX audit_log_workspace ON audit_log (workspace_id, platform, id);
