"""slack_sdk installs a top-level ``slack`` package of its own (its deprecated v2 names: ``slack.web``,
``slack.rtm``…). Installed into one site-packages, this project's ``slack`` package shares that folder, where a
folder of theirs would hide a module of ours with the same name: no module here may take one of their names."""

from __future__ import annotations

from importlib.metadata import files
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_module_of_the_slack_face_shares_a_name_with_slack_sdks_own_slack_package() -> None:
    theirs = {Path(str(f)).parts[1].removesuffix(".py") for f in files("slack_sdk") or ()
              if Path(str(f)).parts[0] == "slack" and len(Path(str(f)).parts) > 1}
    assert {"web", "rtm", "webhook"} <= theirs  # the check reads the installed package's file list
    ours = {p.stem for p in (ROOT / "slack").glob("*.py")} | {p.name for p in (ROOT / "slack").iterdir() if p.is_dir()}
    assert sorted(ours & (theirs - {"__init__", "__pycache__", "py.typed"})) == []
