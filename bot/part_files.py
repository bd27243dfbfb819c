"""Files written whole or not at all: each is written to a ``.<name>.<owner>.<random>.part`` file beside it,
then renamed onto its name, so a reader never sees half a file and a crash leaves only a ``.part`` file behind.

``<owner>`` names the process writing it (``<pid>-<nonce>@<host>``): start-up recovery removes only part files
whose writer is dead, so that several processes sharing a volume never remove each other's downloads under way
(``owner_state`` says what this machine can tell by itself; a writer on another machine is looked up in the store).
"""

from __future__ import annotations

import contextlib
import enum
import os
import re
import secrets
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PART_SUFFIX = ".part"
# The owner in a part file's name, then mkstemp's random letters (never a dot), then the suffix.
_OWNED = re.compile(r"\.(?P<pid>[0-9]{1,10})-(?P<nonce>[0-9a-f]{8})@(?P<host>[A-Za-z0-9-]{1,40})\.[^.]+\.part$")


def host_tag(hostname: str) -> str:
    """A host name as part file names carry it: letters, digits and dashes, at most 40 of them."""
    return re.sub(r"[^A-Za-z0-9-]", "-", hostname)[:40] or "host"


@dataclass(frozen=True, slots=True)
class PartOwner:
    """The process that writes a part file: its id on its host, a nonce of that run, and the host."""

    pid: int
    nonce: str
    host: str

    @property
    def tag(self) -> str:
        """How a part file's name carries it."""
        return f"{self.pid}-{self.nonce}@{self.host}"


class OwnerState(enum.Enum):
    """What this machine knows of a part file's writer."""

    MINE = "mine"  # this very process
    ALIVE = "alive"  # another process of this host that is running
    DEAD = "dead"  # a process of this host that has ended (or an earlier run under this same pid)
    ELSEWHERE = "elsewhere"  # a process of another host: only the store can tell


_me: PartOwner | None = None


def this_process() -> PartOwner:
    """This process as the owner of the part files it writes (made anew in a forked child)."""
    global _me
    if _me is None or _me.pid != os.getpid():
        _me = PartOwner(os.getpid(), secrets.token_hex(4), host_tag(socket.gethostname()))
    return _me


def part_owner(path: Path) -> PartOwner | None:
    """The writer a part file's name carries, or None for a name without one."""
    match = _OWNED.search(path.name)
    if match is None or not is_part_file(path):
        return None
    return PartOwner(int(match["pid"]), match["nonce"], match["host"])


def owner_state(owner: PartOwner) -> OwnerState:
    """Whether a part file's writer is this process, alive or dead on this host, or on another host."""
    me = this_process()
    if owner.host != me.host:
        return OwnerState.ELSEWHERE
    if owner.pid == me.pid:
        # Another nonce under this pid is an earlier run (a container's process is pid 1 at every start).
        return OwnerState.MINE if owner.nonce == me.nonce else OwnerState.DEAD
    try:
        os.kill(owner.pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return OwnerState.DEAD
    except PermissionError:
        return OwnerState.ALIVE  # it exists, under another user
    return OwnerState.ALIVE


def new_part_file(dest: Path) -> tuple[int, Path]:
    """Create an empty part file beside ``dest`` (owner-only), named with this process as its writer; return its
    open descriptor and its path."""
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.{this_process().tag}.", suffix=PART_SUFFIX)
    return fd, Path(name)


def is_part_file(path: Path) -> bool:
    """True for a part file left by a write that never finished."""
    return path.name.startswith(".") and path.name.endswith(PART_SUFFIX)


@contextlib.contextmanager
def written_whole(dest: Path) -> Iterator[Path]:
    """A part-file path to write ``dest``'s content to; it becomes ``dest`` when the block ends without error
    and is removed otherwise (cancellation included)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, part = new_part_file(dest)
    os.close(fd)
    try:
        yield part
        os.replace(part, dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
