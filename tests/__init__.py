"""veo-bot test suite."""
