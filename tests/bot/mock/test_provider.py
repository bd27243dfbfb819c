"""The mock provider makes a real, playable MP4 on this machine and reports progress like the real service."""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest
from PIL import Image

from bot.jobs.provider import DownloadFailed, ImageInput, TaskNotFound, TaskState
from bot.mock.provider import MockVideoProvider, is_mock_task
from tests.support.mp4 import top_level_boxes


def _decode(path: Path) -> tuple[str, int, int, int, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        assert stream.duration is not None and stream.time_base is not None
        return stream.codec_context.name, stream.width, stream.height, frames, float(stream.duration * stream.time_base)


def test_the_index_comes_before_the_media_so_playback_starts_early(tmp_path: Path) -> None:
    from bot.mock.video import render_mp4

    dest = tmp_path / "v.mp4"
    render_mp4(dest, prompt="a red fox in the snow", model="veo3.1-fast", orientation="16x9", seconds=1.0)
    boxes = top_level_boxes(dest.read_bytes())
    assert boxes[0] == "ftyp" and "moov" in boxes and "mdat" in boxes, boxes
    assert boxes.index("moov") < boxes.index("mdat"), boxes  # faststart


async def test_a_task_runs_through_progress_to_a_playable_mp4(tmp_path: Path) -> None:
    provider = MockVideoProvider(tmp_path / "mock", polls_until_done=3, seconds=2.0)
    task_id = await provider.create("a red fox in the snow", "veo3.1-fast", "16x9")
    assert is_mock_task(task_id)
    states = [await provider.get(task_id) for _ in range(3)]
    assert [(s.state, s.progress) for s in states] == [
        (TaskState.RUNNING, 33), (TaskState.RUNNING, 66), (TaskState.SUCCEEDED, 100)
    ]
    dest = tmp_path / "videos" / "1.mp4"
    size = await provider.download(task_id, states[-1].video_url, dest)
    data = dest.read_bytes()
    assert size == len(data) and data[4:8] == b"ftyp" and 1000 < size < 500_000
    codec, width, height, frames, seconds = _decode(dest)
    assert (codec, width, height, frames) == ("h264", 320, 180, 24) and seconds == pytest.approx(2.0, abs=0.2)
    assert list((tmp_path / "mock").iterdir()) == []  # the drawn file was handed over
    assert [p.name for p in dest.parent.iterdir()] == ["1.mp4"]  # no partial files left


async def test_portrait_and_a_first_frame_image(tmp_path: Path) -> None:
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), (255, 0, 0)).save(picture, format="PNG")
    provider = MockVideoProvider(tmp_path / "mock", polls_until_done=1, seconds=1.0)
    task_id = await provider.create("p", "veo3", "9x16", [ImageInput(picture.getvalue(), "a.png", "image/png")])
    assert (await provider.get(task_id)).state is TaskState.SUCCEEDED
    dest = tmp_path / "out.mp4"
    await provider.download(task_id, None, dest)
    assert _decode(dest)[1:3] == (180, 320)
    with av.open(str(dest)) as container:
        frame = next(container.decode(video=0)).to_image()
    red, green, blue = frame.getpixel((90, 160))  # the image, scaled into the middle
    assert red > 180 and green < 80 and blue < 80


async def test_unreadable_image_still_makes_a_video(tmp_path: Path) -> None:
    provider = MockVideoProvider(tmp_path / "mock", polls_until_done=1, seconds=0.5)
    task_id = await provider.create("p", "veo3", "16x9", [ImageInput(b"\x89PNG\r\n\x1a\nbroken", "a.png", "image/png")])
    assert await provider.download(task_id, None, tmp_path / "v.mp4") > 0


async def test_a_restart_keeps_the_drawn_video(tmp_path: Path) -> None:
    task_id = await MockVideoProvider(tmp_path / "mock", polls_until_done=2).create("p", "m", "16x9")
    again = MockVideoProvider(tmp_path / "mock", polls_until_done=2)
    assert (await again.get(task_id)).state is TaskState.RUNNING
    assert (await again.get(task_id)).state is TaskState.SUCCEEDED
    assert await again.download(task_id, None, tmp_path / "v.mp4") > 0


async def test_unknown_or_foreign_task_ids_are_not_found(tmp_path: Path) -> None:
    provider = MockVideoProvider(tmp_path / "mock")
    with pytest.raises(TaskNotFound):
        await provider.get("mock-0123456789abcdef")
    with pytest.raises(TaskNotFound):
        await provider.get("task_from_cometapi")
    with pytest.raises(TaskNotFound):
        await provider.get("mock-../../etc")
    with pytest.raises(DownloadFailed):
        await provider.download("mock-0123456789abcdef", None, tmp_path / "v.mp4")
