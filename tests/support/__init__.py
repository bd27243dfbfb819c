"""Test helpers shared by several test modules (not test doubles of a protocol)."""
