"""The numbered SQL migrations a store backend ships (``NNNN_name.sql`` in a package of its own)."""

from __future__ import annotations

from importlib import resources


def numbered_migrations(package: str) -> list[tuple[int, str, str]]:
    """The migrations in ``package``, as (version, name, sql), in order; numbered 1..n without gaps."""
    scripts = []
    for entry in resources.files(package).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            scripts.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    scripts.sort()
    versions = [v for v, _, _ in scripts]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return scripts
