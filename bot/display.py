"""How any face shows a job in words: the state labels, a text progress bar, a short age, fixed notes.

Every text is an English template (``msg``) translated with ``bot.i18n.tr`` for the reader's locale; each face
adds its own markup and escaping around them.
"""

from __future__ import annotations

from bot.i18n import Locale, tr
from bot.jobs.errors import msg
from bot.jobs.records import Job, JobStatus

BAR_CELLS = 12

STATE_LABELS: dict[JobStatus, str] = {
    JobStatus.QUEUED: msg("⏳ Waiting in the queue"),
    JobStatus.SUBMITTING: msg("📤 Sending to the video service"),
    JobStatus.SUBMITTED: msg("🕐 Accepted, waiting to start"),
    JobStatus.RUNNING: msg("🎬 Generating"),
    JobStatus.COMPLETED: msg("📦 Done, posting the video"),
    JobStatus.DELIVERED: msg("✅ Delivered"),
    JobStatus.FAILED: msg("❌ Failed"),
    JobStatus.CANCELLED: msg("🚫 Cancelled"),
    JobStatus.TIMED_OUT: msg("⌛ Timed out"),
}
SAFETY_HINT = msg("Try rephrasing the prompt (or using another image) and run /veo again.")
MOCK_LABEL = msg("🧪 Mock provider: a local test video, no credits spent")
MOCK_NOTE = msg("🧪 This is a mock video made by the bot itself for testing (VEO_PROVIDER=mock), not by Veo.")


def progress_bar(percent: int) -> str:
    """A text progress bar such as ``▰▰▰▱▱▱▱▱▱▱▱▱ 25%``."""
    percent = max(0, min(100, percent))
    filled = round(percent * BAR_CELLS / 100)
    return "▰" * filled + "▱" * (BAR_CELLS - filled) + f" {percent}%"


def age(seconds: float, locale: Locale | None = None) -> str:
    """A short human duration: ``45 s``, ``3 min``, ``2 h 5 min``, ``3 d``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return tr("{n} s", locale, n=seconds)
    if seconds < 3600:
        return tr("{n} min", locale, n=seconds // 60)
    if seconds < 86400:
        hours, rest = divmod(seconds, 3600)
        if rest >= 60:
            return tr("{hours} h {minutes} min", locale, hours=hours, minutes=rest // 60)
        return tr("{hours} h", locale, hours=hours)
    return tr("{n} d", locale, n=seconds // 86400)


def state_line(job: Job, position: int = 0, locale: Locale | None = None) -> str:
    """The job's state in one line: label, and progress or queue position where they mean something."""
    label = tr(STATE_LABELS[job.status], locale)
    if job.status in (JobStatus.SUBMITTED, JobStatus.RUNNING):
        return f"{label} · {progress_bar(job.progress)}"
    if job.status is JobStatus.QUEUED and position:
        return f"{label} · " + tr("position {position}", locale, position=position)
    return label
