-- What a face is about to post for a job (bot/jobs/post_intents.py), written before each call that has no
-- idempotency key (Slack's chat.postMessage, files.completeUploadExternal): after an interrupted attempt it
-- says to look for what got through and adopt it instead of posting again. One row per job and kind of message.

CREATE TABLE post_intents (
    job_id      INTEGER NOT NULL REFERENCES jobs (id),
    kind        TEXT    NOT NULL,  -- status, result, failure, dm
    stage       TEXT    NOT NULL,  -- posting, uploading, completing, completed, posted
    file_id     TEXT,              -- the platform's id of an uploaded file, known before it is shared
    message_id  TEXT,              -- the message, once known
    updated_at  REAL    NOT NULL,
    PRIMARY KEY (job_id, kind)
);
