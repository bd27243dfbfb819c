"""The job store: connection setup, numbered migrations, and the one class that holds all SQL."""
