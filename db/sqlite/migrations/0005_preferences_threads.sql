-- Members' own defaults per workspace (/veo-prefer), channels whose jobs each get a thread of their own,
-- and what a job carries of both: whether its status and result go into a thread, and whether its
-- requester is told by direct message once the result is posted.

CREATE TABLE member_preferences (
    platform      TEXT NOT NULL,
    workspace_id  TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    model         TEXT,                        -- NULL: the workspace's default model
    orientation   TEXT,                        -- NULL: the workspace's default orientation
    dm_when_ready INTEGER NOT NULL DEFAULT 0,  -- a direct message when a video is ready
    updated_at    REAL NOT NULL,
    PRIMARY KEY (platform, workspace_id, user_id)
);

-- JSON list of channel ids whose jobs each get a thread; NULL = none.
ALTER TABLE workspace_settings ADD COLUMN thread_channels TEXT;

ALTER TABLE jobs ADD COLUMN in_thread INTEGER NOT NULL DEFAULT 0;      -- status and result in a thread
ALTER TABLE jobs ADD COLUMN dm_when_ready INTEGER NOT NULL DEFAULT 0;  -- tell the requester by DM once posted
ALTER TABLE jobs ADD COLUMN dm_sent_at REAL;                           -- when that DM was sent (or given up)
