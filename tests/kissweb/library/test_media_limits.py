"""What an upload may claim (issue 19 items 4, 5, 10): a duration its bytes can hold, a picture no larger than
KISSWEB_MAX_VIDEO_PIXELS, and a poster even when the film is one frame. Refusals are sentences: no ffmpeg output."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kissweb.library.models import Movie
from tests.kissweb.library.conftest import files_under
from tests.mediagen import ffmpeg

pytestmark = pytest.mark.django_db

RAW_FFMPEG = re.compile(r"0x[0-9a-f]{6,}|\[(vf|vost|out|enc)#|exit \d+")


def upload(client, path: Path):
    with path.open("rb") as f:
        return client.post("/api/movies/", {"file": f}, format="multipart")


@pytest.fixture(scope="module")
def ten_hour_claim(tmp_path_factory) -> Path:
    """Two frames stamped 0 s and 36,000 s: a few kilobytes that probe as ten hours."""
    path = tmp_path_factory.mktemp("limits") / "long.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64:rate=1", "-frames:v", "2", "-vf", "setpts=N*36000/TB",
           "-fps_mode", "passthrough", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path))
    return path


@pytest.fixture(scope="module")
def huge_picture(tmp_path_factory) -> Path:
    """One black 8192x8192 frame: about 200 KB."""
    path = tmp_path_factory.mktemp("limits") / "huge.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=black:size=8192x8192:rate=1", "-frames:v", "1", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))
    return path


@pytest.fixture(scope="module")
def one_frame(tmp_path_factory) -> Path:
    """A valid film of one picture over 4 s of sound: 10% of it lies past its only frame."""
    path = tmp_path_factory.mktemp("limits") / "one-frame.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
           "-frames:v", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-t", "4", str(path))
    return path


def test_a_tiny_file_claiming_ten_hours_is_refused_in_words(api_client, ten_hour_claim, media_root):
    assert ten_hour_claim.stat().st_size < 10_000
    response = upload(api_client, ten_hour_claim)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "duration_implausible"
    assert "10:00:01" in body["detail"] and "2 frames" in body["detail"]
    assert "KISSWEB_MIN_BYTES_PER_SECOND" in body["detail"]
    assert not Movie.objects.exists() and files_under(media_root) == []


def test_the_floor_is_a_setting(api_client, ten_hour_claim, settings):
    settings.KISSWEB_MIN_BYTES_PER_SECOND = 0
    assert upload(api_client, ten_hour_claim).status_code == 201


def test_real_films_pass_the_duration_floor(api_client, small_video, settings):
    assert settings.KISSWEB_MIN_BYTES_PER_SECOND == 256
    assert upload(api_client, small_video).status_code == 201


def test_an_8192_square_picture_is_refused_in_words(api_client, huge_picture, media_root):
    response = upload(api_client, huge_picture)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "picture_too_large"
    assert "8192×8192" in body["detail"] and "KISSWEB_MAX_VIDEO_PIXELS" in body["detail"]
    assert not Movie.objects.exists() and files_under(media_root) == []


def test_the_picture_cap_is_a_setting(api_client, small_video, settings):
    settings.KISSWEB_MAX_VIDEO_PIXELS = 320 * 240 - 1
    response = upload(api_client, small_video)
    assert response.status_code == 422 and "320×240" in response.json()["detail"]
    settings.KISSWEB_MAX_VIDEO_PIXELS = 320 * 240
    assert upload(api_client, small_video).status_code == 201


def test_a_one_frame_film_is_accepted_with_its_first_frame_as_poster(api_client, one_frame):
    response = upload(api_client, one_frame)
    assert response.status_code == 201, response.content
    movie = Movie.objects.get(pk=response.json()["id"])
    assert Path(movie.poster.path).read_bytes()[:2] == b"\xff\xd8"


def test_ffmpeg_output_stays_in_the_log(api_client, one_frame, monkeypatch, caplog):
    import detector

    def broken(path, **kwargs):
        raise detector.DecodeError(f"{path}: ffmpeg could not extract a frame at 0 s (exit 234): "
                                   "[vf#0:0 @ 0x55e3308c8ec0] Task finished with error code: -22")

    monkeypatch.setattr(detector, "extract_frame", broken)
    response = upload(api_client, one_frame)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert not RAW_FFMPEG.search(detail), detail
    assert "one-frame.mp4" in detail and "could not extract a frame" in detail
    assert "0x55e3308c8ec0" in caplog.text
