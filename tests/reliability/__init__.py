"""Reliability suites: the real bot process under faults, crashes and bad input."""
