"""The SQLite job store: one file, one process; group commit over one connection (``SqliteJobStore``)."""
