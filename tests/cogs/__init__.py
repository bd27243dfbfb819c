"""Tests for cogs/."""
