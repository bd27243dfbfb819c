"""``python -m bot.ops.healthcheck``: exit 0 when the running bot's ``/healthz`` answers 200 (a container probe)."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

DEFAULT_PORT = "8080"
TIMEOUT = 5.0


def probe(env: Mapping[str, str]) -> tuple[int, str]:
    """Ask ``/healthz`` on this host at ``VEO_HTTP_PORT``; return the exit code and one line to print."""
    port = env.get("VEO_HTTP_PORT") or DEFAULT_PORT
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:
            return 0, resp.read(2000).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return 1, f"HTTP {exc.code}: {exc.read(2000).decode(errors='replace')}"
    except (urllib.error.URLError, OSError) as exc:
        return 1, f"no answer from {url}: {exc}"


def main() -> int:
    """Probe, print the answer, return the exit code."""
    code, line = probe(os.environ)
    print(line)
    return code


if __name__ == "__main__":
    sys.exit(main())
