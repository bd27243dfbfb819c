-- Per-guild overrides of the bot's limits, the moderators' audit trail, and quota refunds.
CREATE TABLE guild_settings (
    guild_id              INTEGER PRIMARY KEY,
    max_active_per_user   INTEGER,
    max_active_per_guild  INTEGER,
    max_queued            INTEGER,
    daily_quota_per_user  INTEGER,
    daily_quota_per_guild INTEGER,
    cooldown_seconds      REAL,
    allowed_channels      TEXT,   -- JSON list of ids; NULL = every channel
    allowed_roles         TEXT,   -- JSON list of ids; NULL = every member
    allowed_models        TEXT,   -- JSON list of names; NULL = every configured model
    paused                INTEGER NOT NULL DEFAULT 0,
    pause_reason          TEXT,
    updated_at            REAL,
    updated_by            INTEGER
);

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id  INTEGER NOT NULL,
    actor_id  INTEGER NOT NULL,
    action    TEXT    NOT NULL,
    details   TEXT    NOT NULL DEFAULT '',
    job_id    INTEGER,
    at        REAL    NOT NULL
);
CREATE INDEX audit_log_guild ON audit_log (guild_id, id);

-- A refunded job does not count against daily quotas (it failed without a video, or was cancelled
-- before it reached the provider).
ALTER TABLE jobs ADD COLUMN refunded INTEGER NOT NULL DEFAULT 0;

-- Quota counts: a user's (and a guild's) jobs since the start of the UTC day.
CREATE INDEX jobs_user_created ON jobs (guild_id, user_id, created_at);
CREATE INDEX jobs_guild_created ON jobs (guild_id, created_at);
