"""A film browsers cannot play as stored (GIF data in an .mp4, MPEG-4 part 2 in AVI, H.264 4:4:4, AC-3 sound) gets a
copy they can play, made on the exports queue and served to the player with Range; a film they play is served as
it is. Generated files and real clips of ../shared/media."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path

import pytest

from kissweb.exports.models import PlayableCopy
from kissweb.exports.playability import transcode_for_browsers, why_browsers_cannot_play
from kissweb.jobs.models import Run
from kissweb.library.models import Movie
from tests.kissweb.exports.conftest import run_queued
from tests.kissweb.exports.media import colour_film, colour_of, frames, stream_facts
from tests.mediagen import SHARED_MEDIA, ffmpeg
from tests.openapi import assert_matches_schema

REAL_GIF_IN_MP4 = SHARED_MEDIA / "dev" / "opbro1179-hub__Hehe__kiss1.mp4"
REAL_XVID_AVI = SHARED_MEDIA / "notkiss_tvhi_handshake_xvid_mp3.avi"
REAL_VP8_WEBM = SHARED_MEDIA / "notkiss_film_walk_vp8_vorbis.webm"
REAL_H264_MP4 = SHARED_MEDIA / "kiss_stock_1080sq_silentaac.mp4"


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("playable")
    colours = "color=c=red:s=160x120:r=10:d=1[a];color=c=green:s=160x120:r=10:d=2[b];[a][b]concat=n=2:v=1:a=0"
    made = {
        "gif_in_mp4": folder / "gif.mp4", "mpeg4_avi": folder / "mpeg4.avi", "h264_444": folder / "444.mp4",
        "ac3_sound": folder / "ac3.mp4",
    }
    ffmpeg("-f", "lavfi", "-i", colours, "-f", "gif", str(made["gif_in_mp4"]))  # GIF data, .mp4 name
    ffmpeg("-f", "lavfi", "-i", colours, "-f", "lavfi", "-i", "sine=d=3", "-c:v", "mpeg4", "-c:a", "libmp3lame",
           str(made["mpeg4_avi"]))
    ffmpeg("-f", "lavfi", "-i", colours, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p",
           str(made["h264_444"]))
    ffmpeg("-f", "lavfi", "-i", colours, "-f", "lavfi", "-i", "sine=d=3", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", "-c:a", "ac3", "-shortest", str(made["ac3_sound"]))
    made["h264_aac"] = colour_film(folder / "plays.mp4", [("red", 1.0), ("green", 2.0)], size="160x120")
    return made


def test_the_verdict_compares_codecs_container_and_pixels_with_what_browsers_play(sources):
    assert why_browsers_cannot_play(sources["gif_in_mp4"]) == "it is a GIF animation, whatever its file name says"
    assert why_browsers_cannot_play(sources["mpeg4_avi"]) == "its container is AVI (Audio Video Interleaved)"
    assert why_browsers_cannot_play(sources["h264_444"]) == "its H.264 video is in the pixel format yuv444p"
    assert why_browsers_cannot_play(sources["ac3_sound"]) == "its sound is AC-3"
    assert why_browsers_cannot_play(sources["h264_aac"]) == ""


@pytest.mark.skipif(not SHARED_MEDIA.is_dir(), reason="../shared/media is not here")
def test_the_verdict_on_real_clips():
    assert why_browsers_cannot_play(REAL_GIF_IN_MP4) == "it is a GIF animation, whatever its file name says"
    assert why_browsers_cannot_play(REAL_XVID_AVI) == "its container is AVI (Audio Video Interleaved)"
    assert why_browsers_cannot_play(REAL_VP8_WEBM) == ""
    assert why_browsers_cannot_play(REAL_H264_MP4) == ""


def test_the_copy_is_h264_aac_mp4_with_its_index_first(sources, tmp_path):
    seen = []
    out = tmp_path / "out" / "copy.mp4"
    transcode_for_browsers(source=sources["mpeg4_avi"], output=out, duration_s=3.0, max_height=720,
                           progress=seen.append)
    facts = stream_facts(out)
    assert (facts["video_codec"], facts["pix_fmt"], facts["audio_codec"]) == ("h264", "yuv420p", "aac")
    assert facts["duration_s"] == pytest.approx(3.0, abs=0.15) and why_browsers_cannot_play(out) == ""
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: playable before the whole file has arrived
    assert seen and seen == sorted(seen) and seen[-1] > 0.9
    assert [p.name for p in out.parent.iterdir()] == ["copy.mp4"]  # no partial left beside it


def test_a_stopped_copy_leaves_nothing(sources, tmp_path):
    class Stop(Exception):
        pass

    def stop(fraction):
        raise Stop

    with pytest.raises(Stop):
        transcode_for_browsers(source=sources["h264_444"], output=tmp_path / "out" / "copy.mp4", duration_s=3.0,
                               max_height=720, progress=stop)
    assert list((tmp_path / "out").iterdir()) == []


def film_of(path: Path, *, user, media_root: Path, duration_s: float = 3.0) -> Movie:
    name = f"movies/{uuid.uuid4().hex}{path.suffix}"
    (media_root / "movies").mkdir(exist_ok=True)
    shutil.copyfile(path, media_root / name)
    return Movie.objects.create(
        title="Rififi", original_filename=path.name, file=name, size_bytes=path.stat().st_size,
        sha256=hashlib.sha256(uuid.uuid4().bytes).hexdigest(), duration_s=duration_s, width=160, height=120,
        fps=10.0, has_audio=False, uploaded_by=user, status="ready",
    )


@pytest.mark.django_db
def test_the_player_gets_a_copy_of_a_film_browsers_cannot_play(api_client, other_client, anon_client, user, sources,
                                                                media_root, django_capture_on_commit_callbacks):
    movie = film_of(sources["gif_in_mp4"], user=user, media_root=media_root)
    with django_capture_on_commit_callbacks(execute=True):
        waiting = api_client.get(f"/api/movies/{movie.pk}/playback/")
    assert waiting.status_code == 409 and waiting.json()["code"] == "playable_copy_pending"
    assert "Browsers cannot play 'Rififi' as it is stored (it is a GIF animation" in waiting.json()["detail"]
    assert_matches_schema(waiting, "get", f"/api/movies/{movie.pk}/playback/")
    status = api_client.get(f"/api/movies/{movie.pk}/playable-copy/")
    assert_matches_schema(status, "get", f"/api/movies/{movie.pk}/playable-copy/")
    assert status.json()["status"] == "queued" and status.json()["source_plays"] is False
    from django_q.models import OrmQ

    assert [task.key for task in OrmQ.objects.all()] == ["kissweb-exports"]  # one copy, on the exports queue
    assert anon_client.get(f"/api/movies/{movie.pk}/playback/").status_code == 401

    assert run_queued("playable_copy") == ["succeeded"]
    assert api_client.get(f"/api/movies/{movie.pk}/playable-copy/").json()["status"] == "ready"
    played = other_client.get(f"/api/movies/{movie.pk}/playback/")  # anyone who sees the film
    assert played.status_code == 200 and played["Content-Type"] == "video/mp4" and played["Accept-Ranges"] == "bytes"
    assert_matches_schema(played, "get", f"/api/movies/{movie.pk}/playback/")
    size = int(played["Content-Length"])
    part = api_client.get(f"/api/movies/{movie.pk}/playback/", HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-199/{size}"
    copy = media_root / PlayableCopy.objects.get(movie=movie).file
    assert b"".join(played.streaming_content) == copy.read_bytes()
    facts = stream_facts(copy)
    assert (facts["video_codec"], facts["pix_fmt"]) == ("h264", "yuv420p")
    colours = [colour_of(f) for _, f in frames(copy)]
    assert colours[0] == "red" and colours[-1] == "green"


@pytest.mark.django_db
def test_a_film_browsers_play_is_served_as_it_is(api_client, user, sources, media_root):
    movie = film_of(sources["h264_aac"], user=user, media_root=media_root)
    played = api_client.get(f"/api/movies/{movie.pk}/playback/")
    assert played.status_code == 200
    assert b"".join(played.streaming_content) == (media_root / movie.file.name).read_bytes()
    assert api_client.get(f"/api/movies/{movie.pk}/playable-copy/").json()["status"] == "not_needed"
    assert not Run.objects.filter(kind="playable_copy").exists()


@pytest.mark.django_db
def test_a_copy_that_cannot_be_made_says_why_and_the_film_goes_with_its_copy(
        api_client, user, sources, media_root, django_capture_on_commit_callbacks):
    broken = film_of(sources["mpeg4_avi"], user=user, media_root=media_root)
    path = media_root / broken.file.name
    path.write_bytes(path.read_bytes()[:4096])  # the header reads, the pictures do not
    api_client.get(f"/api/movies/{broken.pk}/playable-copy/")
    run = Run.objects.get(kind="playable_copy")
    run_queued("playable_copy")
    Run.objects.filter(pk=run.pk, status="queued").update(enqueued_at=run.queued_at)
    run_queued("playable_copy")
    failed = api_client.get(f"/api/movies/{broken.pk}/playback/")
    assert failed.status_code == 409 and failed.json()["code"] == "playable_copy_failed"
    assert str(media_root) not in failed.json()["detail"]
    assert_matches_schema(failed, "get", f"/api/movies/{broken.pk}/playback/")

    movie = film_of(sources["gif_in_mp4"], user=user, media_root=media_root)
    api_client.get(f"/api/movies/{movie.pk}/playable-copy/")
    run_queued("playable_copy")
    copy = media_root / PlayableCopy.objects.get(movie=movie).file
    assert copy.is_file()
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.delete(f"/api/movies/{movie.pk}/").status_code == 204
    assert not copy.exists() and not PlayableCopy.objects.filter(movie_id=movie.pk).exists()


@pytest.mark.django_db
@pytest.mark.skipif(not SHARED_MEDIA.is_dir(), reason="../shared/media is not here")
def test_a_real_gif_in_mp4_clip_gets_a_copy(api_client, user, media_root):
    import av

    with av.open(str(REAL_GIF_IN_MP4)) as container:
        duration = container.duration / 1_000_000
    movie = film_of(REAL_GIF_IN_MP4, user=user, media_root=media_root, duration_s=duration)
    api_client.get(f"/api/movies/{movie.pk}/playable-copy/")
    assert run_queued("playable_copy") == ["succeeded"]
    copy = media_root / PlayableCopy.objects.get(movie=movie).file
    facts = stream_facts(copy)
    assert facts["video_codec"] == "h264" and facts["duration_s"] == pytest.approx(duration, abs=0.3)
    assert why_browsers_cannot_play(copy) == ""


@pytest.mark.django_db
def test_the_sweeper_removes_copies_no_film_names_and_renders_of_killed_workers(api_client, user, sources,
                                                                               media_root):
    import os
    import time

    from kissweb.exports.sweeper import export_sweep

    movie = film_of(sources["gif_in_mp4"], user=user, media_root=media_root)
    api_client.get(f"/api/movies/{movie.pk}/playable-copy/")
    run_queued("playable_copy")
    folder = media_root / "playable"
    kept = media_root / PlayableCopy.objects.get(movie=movie).file
    render, orphan = folder / ".render-old", folder / "999-lost.mp4"
    (render / "partial.mp4").parent.mkdir(parents=True)
    for path in (render / "partial.mp4", orphan):
        path.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    for path in (render / "partial.mp4", render, orphan, kept):
        os.utime(path, (two_hours_ago, two_hours_ago))
    swept = export_sweep()
    assert swept["abandoned"] == [".render-old"] and swept["orphans"] == ["999-lost.mp4"]
    assert [p.name for p in folder.iterdir()] == [kept.name]


@pytest.mark.django_db
def test_an_upload_browsers_cannot_play_gets_its_copy_queued_as_it_is_stored(
        api_client, sources, tmp_path, django_capture_on_commit_callbacks):
    from django_q.models import OrmQ

    gif = tmp_path / "rififi.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=10:d=3", "-f", "gif", str(gif))  # GIF data, .mp4 name
    ids = {}
    for name, path in (("gif", gif), ("h264", sources["h264_aac"])):
        with path.open("rb") as handle, django_capture_on_commit_callbacks(execute=True):
            response = api_client.post("/api/movies/", {"file": handle, "title": name}, format="multipart")
        assert response.status_code == 201, response.content
        ids[name] = response.json()["id"]
    assert PlayableCopy.objects.get(movie_id=ids["gif"]).source_plays is False
    assert PlayableCopy.objects.get(movie_id=ids["h264"]).source_plays is True
    runs = Run.objects.filter(kind="playable_copy")
    assert [run.subject_id for run in runs] == [ids["gif"]]
    assert f"playable_copy-{runs[0].pk}" in {task.task["name"] for task in OrmQ.objects.filter(key="kissweb-exports")}
