"""Security properties as tests: downloads, SQL, permissions (mentions, secrets and file modes are checked by
the reliability runs over every message and log line)."""
