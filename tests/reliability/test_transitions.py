"""The transition-log replay of the reliability runs finds what it must: a cap exceeded by one committed state, a
create request sent while its job did not count; and takes a transaction's rows together, in commit order."""

from __future__ import annotations

from typing import Any

from tests.reliability.transitions import Caps, creates_outside_active, replay_caps

CAPS = Caps(per_user=1, per_workspace=2, total=2)


def _row(seq: int, tx: int | None, job: int, old: str | None, new: str, *, user: str = "u1", workspace: str = "g1",
         at: float | None = None) -> dict[str, Any]:
    return {"seq": seq, "tx": tx, "job_id": job, "old_status": old, "new_status": new, "platform": "discord",
            "workspace_id": workspace, "user_id": user, "old_owner": None, "new_owner": None, "lease_token": 0,
            "at": float(seq) if at is None else at}


def _queued(*jobs: tuple[int, str, str]) -> list[dict[str, Any]]:
    return [_row(i, 100 + i, job, None, "queued", user=user, workspace=ws) for i, (job, user, ws) in enumerate(jobs)]


def test_within_the_caps_nothing_is_reported_and_the_peaks_are_counted() -> None:
    rows = _queued((1, "u1", "g1"), (2, "u2", "g1"), (3, "u1", "g1"))
    rows += [_row(10, 1, 1, "queued", "submitting"), _row(11, 1, 2, "queued", "submitting", user="u2"),
             _row(12, 2, 1, "submitting", "submitted"), _row(13, 3, 1, "submitted", "delivered"),
             _row(14, 4, 3, "queued", "submitting")]
    replay = replay_caps(rows, CAPS)
    assert replay.problems == []
    assert (replay.peak_user, replay.peak_workspace, replay.peak_total) == (1, 2, 2)
    assert replay.active[1] == [(10.0, 13.0)] and replay.active[3] == [(14.0, None)]


def test_a_member_over_the_cap_in_one_committed_state_is_reported() -> None:
    rows = _queued((1, "u1", "g1"), (2, "u1", "g1"))
    rows += [_row(10, 1, 1, "queued", "submitting"), _row(11, 2, 2, "queued", "submitting"),
             _row(12, 3, 1, "submitting", "failed")]
    problems = replay_caps(rows, CAPS).problems
    assert problems == ["2 jobs of one member active at once, cap 1 (seq 11..11)"]


def test_a_transaction_that_frees_a_slot_and_takes_it_counts_once_committed() -> None:
    rows = _queued((1, "u1", "g1"), (2, "u1", "g1"))
    # One transaction (tx 5) takes job 2 before it frees job 1 in its own order: only its committed state counts.
    rows += [_row(10, 1, 1, "queued", "submitting"), _row(11, 5, 2, "queued", "submitting"),
             _row(12, 5, 1, "submitting", "cancelled")]
    assert replay_caps(rows, CAPS).problems == []


def test_transactions_are_replayed_in_the_order_they_committed() -> None:
    rows = _queued((1, "u1", "g1"), (2, "u2", "g1"), (3, "u3", "g2"))
    # tx 7's first row comes before tx 8's rows, but tx 7 commits last (its last row): the total reaches 3.
    rows += [_row(10, 7, 1, "queued", "submitting"), _row(11, 8, 2, "queued", "submitting", user="u2"),
             _row(12, 8, 3, "queued", "submitting", user="u3", workspace="g2"),
             _row(13, 7, 1, "submitting", "submitting")]
    problems = replay_caps(rows, CAPS).problems
    assert problems == ["3 jobs active at once, cap 2 (seq 10..13)"]


def test_a_log_that_skips_a_step_is_reported() -> None:
    rows = [*_queued((1, "u1", "g1")), _row(10, 1, 1, "submitted", "running")]
    assert "skips a step" in replay_caps(rows, CAPS).problems[0]


def test_a_create_outside_its_jobs_active_time_is_reported() -> None:
    rows = [*_queued((1, "u1", "g1")), _row(10, 1, 1, "queued", "submitting", at=100.0),
            _row(11, 2, 1, "submitting", "failed", at=105.0)]
    replay = replay_caps(rows, CAPS)
    assert creates_outside_active(replay, [(1, 100.5), (1, 104.9)]) == []
    late = creates_outside_active(replay, [(1, 106.0), (1, 99.0), (2, 101.0)])
    assert len(late) == 3 and all("did not count against the caps" in p for p in late)
