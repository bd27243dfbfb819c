"""``select_claimable``: which queued jobs a claim takes, under the caps, the same for every backend.

Each backend takes its own lock, reads the counts its own way and writes the claim; the choice between the
two is this pure function, so the caps mean the same on SQLite and on PostgreSQL by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from bot.jobs.records import Limits

# (platform, workspace id) and (platform, workspace id, user id)
WorkspaceKey = tuple[str, str]
UserKey = tuple[str, str, str]
# A workspace's own caps, with the bot's defaults filled in: (per member, per workspace, paused).
WorkspaceCaps = tuple[int, int, bool]


def workspace_caps(rows: Iterable[tuple[str, str, int | None, int | None, bool]], limits: Limits
                   ) -> dict[WorkspaceKey, WorkspaceCaps]:
    """Caps per workspace from its settings rows (platform, workspace id, per-member cap, per-workspace cap,
    paused), where a None cap is the bot's default."""
    return {
        (platform, workspace_id): (limits.per_user if user_cap is None else int(user_cap),
                                   limits.per_guild if workspace_cap is None else int(workspace_cap), bool(paused))
        for platform, workspace_id, user_cap, workspace_cap, paused in rows
    }


def select_claimable(
    queued: Iterable[tuple[int, str, str, str]],
    *,
    active_total: int,
    user_count: Callable[[UserKey], int],
    workspace_count: Callable[[WorkspaceKey], int],
    caps: Mapping[WorkspaceKey, WorkspaceCaps],
    limits: Limits,
    batch: int,
) -> list[int]:
    """The ids to claim from ``queued`` (id, user id, workspace id, platform), oldest first.

    ``active_total`` jobs hold a provider slot now; ``user_count`` and ``workspace_count`` say how many of them
    are a member's and a workspace's (asked at most once per key, so a backend may count lazily). A job blocked
    by its member's or workspace's cap, or by its workspace's pause, does not block the jobs behind it.
    """
    total = active_total
    per_user: dict[UserKey, int] = {}
    per_workspace: dict[WorkspaceKey, int] = {}
    claimed: list[int] = []
    for job_id, user_id, workspace_id, platform in queued:
        if total >= limits.total or len(claimed) >= batch:
            break
        where = (platform, workspace_id)
        user_cap, workspace_cap, paused = caps.get(where, (limits.per_user, limits.per_guild, False))
        if paused:
            continue
        key = (platform, workspace_id, user_id)
        if key not in per_user:
            per_user[key] = user_count(key)
        if where not in per_workspace:
            per_workspace[where] = workspace_count(where)
        if per_user[key] >= user_cap or per_workspace[where] >= workspace_cap:
            continue
        claimed.append(job_id)
        total += 1
        per_user[key] += 1
        per_workspace[where] += 1
    return claimed
