"""The export API: 202 with the run, progress to a Range-capable download, who may see and export what, limits,
deleting, expiry, and a damaged film leaving nothing behind."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image

from kissweb.exports.models import Export
from kissweb.exports.sweeper import export_sweep
from tests.kissweb.exports.conftest import run_queued
from tests.kissweb.exports.media import colour_of, frames, stream_facts
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db

RUN_KEYS = {"id", "kind", "status", "progress", "eta_s", "download_url"}


def export_files(media_root: Path) -> list[Path]:
    folder = media_root / "exports"
    return sorted(folder.rglob("*")) if folder.exists() else []


def downloaded(client, export_id: int, media_root: Path, suffix: str) -> Path:
    response = client.get(f"/api/exports/{export_id}/download/")
    assert response.status_code == 200, response.content
    path = media_root.parent / f"download{suffix}"
    path.write_bytes(b"".join(response.streaming_content))
    return path


def test_a_scene_clip_from_request_to_ranged_download(api_client, scenes, media_root):
    response = api_client.post(f"/api/segments/{scenes[0].pk}/export/", {"kind": "clip", "padding_s": 1},
                               format="json")
    assert response.status_code == 202, response.content
    assert_matches_schema(response, "post", f"/api/segments/{scenes[0].pk}/export/")
    body = response.json()
    assert set(body) >= RUN_KEYS and body["kind"] == "clip" and body["status"] == "queued"
    assert body["download_url"] is None and body["progress"] == 0
    assert run_queued("export") == ["succeeded"]

    response = api_client.get(f"/api/exports/{body['id']}/")
    assert_matches_schema(response, "get", f"/api/exports/{body['id']}/")
    body = response.json()
    assert body["status"] == "succeeded" and body["progress"] == 1
    assert body["download_url"] == f"/api/exports/{body['id']}/download/"
    response = api_client.get(body["download_url"])
    assert response["Content-Type"] == "video/mp4" and response["Accept-Ranges"] == "bytes"
    assert response["Content-Disposition"] == 'attachment; filename="Casablanca-clip-0-04.mp4"'
    size = int(response["Content-Length"])
    assert_matches_schema(response, "get", body["download_url"])
    partial = api_client.get(body["download_url"], HTTP_RANGE="bytes=10-109")
    assert partial.status_code == 206 and partial["Content-Range"] == f"bytes 10-109/{size}"
    assert_matches_schema(partial, "get", body["download_url"])
    outside = api_client.get(body["download_url"], HTTP_RANGE=f"bytes={size + 10}-")
    assert outside.status_code == 416 and outside["Content-Range"] == f"bytes */{size}"
    assert len(b"".join(partial.streaming_content)) == 100

    clip = downloaded(api_client, body["id"], media_root, ".mp4")
    facts = stream_facts(clip)
    assert facts["video_codec"] == "h264" and facts["audio_codec"] == "aac"
    assert facts["duration_s"] == pytest.approx(5.0, abs=0.1)  # 4.5-7.5 s with 1 s on each side
    colours = [colour_of(f) for _, f in frames(clip)]
    assert colours[0] == "red" and colours[-1] == "blue" and colours.count("green") == 100  # all of 4-8 s


def test_a_film_supercut_and_contact_sheet(api_client, scenes, media_root, film):
    supercut = api_client.post(f"/api/movies/{film.pk}/exports/", {"kind": "supercut", "scene_type": "kissing"},
                               format="json")
    sheet = api_client.post(f"/api/movies/{film.pk}/exports/", {"kind": "contact_sheet", "scene_type": "kissing"},
                            format="json")
    assert supercut.status_code == sheet.status_code == 202, (supercut.content, sheet.content)
    assert run_queued("export") == ["succeeded", "succeeded"]

    video = downloaded(api_client, supercut.json()["id"], media_root, ".mp4")
    assert stream_facts(video)["duration_s"] == pytest.approx(3 + 2 - 0.5, abs=0.15)
    colours = [colour_of(f) for _, f in frames(video)]
    assert colours[0] == "green" and colours[-1] == "blue"

    response = api_client.get(f"/api/exports/{sheet.json()['id']}/download/")
    assert response["Content-Type"] == "image/png"
    png = downloaded(api_client, sheet.json()["id"], media_root, ".png")
    image = np.asarray(Image.open(png).convert("RGB"))
    row = image.shape[0] // 2
    assert image.shape[0] == 2 * (row)
    assert colour_of(image[row // 2 - 5: row // 2 + 5, 400:420]) == "green"
    assert colour_of(image[row + row // 2 - 5: row + row // 2 + 5, 400:420]) == "blue"


def test_a_supercut_of_a_scene_search_within_the_limits(api_client, scenes, settings):
    response = api_client.post("/api/exports/", {"kind": "supercut", "scene_type": "kissing", "max_scenes": 1},
                               format="json")
    assert response.status_code == 202, response.content
    assert response.json()["scene_count"] == 1
    settings.KISSWEB_EXPORT_MAX_SCENES = 5
    settings.KISSWEB_EXPORT_MAX_MINUTES = 3 / 60  # 3 s: one 2 s scene fits, two do not
    response = api_client.post("/api/exports/", {"kind": "supercut", "scene_type": "kissing"}, format="json")
    assert response.json()["scene_count"] == 1
    response = api_client.post("/api/exports/", {"kind": "supercut", "scene_type": "kissing", "source": "manual"},
                               format="json")
    export = Export.objects.get(pk=response.json()["id"])
    assert [s["source"] for s in export.scenes] == ["manual"]
    response = api_client.post("/api/exports/", {"kind": "supercut", "scene_type": "nope"}, format="json")
    assert response.status_code == 400 and "'nope'" in response.json()["detail"]
    assert_matches_schema(response, "post", "/api/exports/")


def test_the_callers_list(api_client, other_client, scenes):
    mine = api_client.post(f"/api/segments/{scenes[0].pk}/export/", {"kind": "clip"}, format="json").json()
    other_client.post(f"/api/segments/{scenes[1].pk}/export/", {"kind": "clip"}, format="json")
    response = api_client.get("/api/exports/")
    assert_matches_schema(response, "get", "/api/exports/")
    listed = response.json()
    assert [e["id"] for e in listed["results"]] == [mine["id"]] and listed["count"] == 1


def test_anyone_who_sees_the_film_may_export_it_but_only_they_see_their_export(other_client, api_client, scenes):
    response = other_client.post(f"/api/segments/{scenes[0].pk}/export/", {"kind": "clip"}, format="json")
    assert response.status_code == 202  # bob did not upload it, but every signed-in person sees the library
    export_id = response.json()["id"]
    run_queued("export")
    for path in (f"/api/exports/{export_id}/", f"/api/exports/{export_id}/download/"):
        refused = api_client.get(path)
        assert refused.status_code == 403 and refused.json()["code"] == "permission_denied", path
    assert api_client.delete(f"/api/exports/{export_id}/").status_code == 403
    assert other_client.get(f"/api/exports/{export_id}/download/").status_code == 200


def test_anonymous_gets_nothing(anon_client, api_client, scenes, film):
    export_id = api_client.post(f"/api/segments/{scenes[0].pk}/export/", {"kind": "clip"}, format="json").json()["id"]
    run_queued("export")
    for method, path, body in [
        ("post", f"/api/segments/{scenes[0].pk}/export/", {"kind": "clip"}),
        ("post", f"/api/movies/{film.pk}/exports/", {"kind": "supercut", "scene_type": "kissing"}),
        ("post", "/api/exports/", {"kind": "supercut", "scene_type": "kissing"}),
        ("get", "/api/exports/", None), ("get", f"/api/exports/{export_id}/", None),
        ("get", f"/api/exports/{export_id}/download/", None), ("delete", f"/api/exports/{export_id}/", None),
    ]:
        call = getattr(anon_client, method)
        response = call(path, body, format="json") if body else call(path)
        assert response.status_code in (401, 403), (method, path, response.status_code)
        assert "detail" in response.json()
    assert Export.objects.count() == 1


def test_bad_requests_are_400_or_409(api_client, scenes, film, kissing):
    assert api_client.post(f"/api/segments/{scenes[0].pk}/export/", {"kind": "clip", "padding_s": -1},
                           format="json").status_code == 400
    assert api_client.post(f"/api/segments/{scenes[0].pk}/export/", {"kind": "supercut"},
                           format="json").status_code == 400
    assert api_client.post("/api/segments/999999/export/", {"kind": "clip"}, format="json").status_code == 404
    assert api_client.post(f"/api/movies/{film.pk}/exports/", {"kind": "clip", "scene_type": "kissing"},
                           format="json").status_code == 400
    from kissweb.library.models import Segment

    Segment.objects.all().delete()
    response = api_client.post(f"/api/movies/{film.pk}/exports/", {"kind": "supercut", "scene_type": "kissing"},
                               format="json")
    assert response.status_code == 409 and "no kissing scenes" in response.json()["detail"]
    assert_matches_schema(response, "post", f"/api/movies/{film.pk}/exports/")
    assert not Export.objects.exists()


def test_download_before_it_is_ready_is_409(api_client, scenes):
    export_id = api_client.post(f"/api/segments/{scenes[0].pk}/export/", {"kind": "clip"}, format="json").json()["id"]
    response = api_client.get(f"/api/exports/{export_id}/download/")
    assert response.status_code == 409 and response.json()["code"] == "export_not_ready"
    assert_matches_schema(response, "get", f"/api/exports/{export_id}/download/")


def test_a_damaged_film_fails_the_export_and_leaves_no_file(api_client, scenes, film, media_root):
    path = media_root / film.file.name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    export_id = api_client.post(f"/api/segments/{scenes[1].pk}/export/", {"kind": "clip"}, format="json").json()["id"]
    assert run_queued("export") == ["failed"]
    body = api_client.get(f"/api/exports/{export_id}/").json()
    assert body["status"] == "failed" and "damaged" in body["error"] and body["download_url"] is None
    assert export_files(media_root) == []


def test_a_cancelled_export_leaves_no_file(api_client, scenes, media_root):
    export_id = api_client.post(f"/api/segments/{scenes[0].pk}/export/", {"kind": "clip"}, format="json").json()["id"]
    assert api_client.delete(f"/api/exports/{export_id}/").status_code == 204
    assert run_queued("export") == [] and not Export.objects.exists()
    assert export_files(media_root) == []


def test_deleting_an_export_or_its_film_removes_its_file(api_client, scenes, film, media_root,
                                                         django_capture_on_commit_callbacks):
    ids = [api_client.post(f"/api/segments/{s.pk}/export/", {"kind": "clip"}, format="json").json()["id"]
           for s in scenes]
    run_queued("export")
    assert len(export_files(media_root)) == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.delete(f"/api/exports/{ids[0]}/").status_code == 204
    assert len(export_files(media_root)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.delete(f"/api/movies/{film.pk}/").status_code == 204
    assert export_files(media_root) == [] and not Export.objects.exists()


def test_expired_exports_are_swept_with_their_files(api_client, scenes, media_root, django_capture_on_commit_callbacks):
    ids = [api_client.post(f"/api/segments/{s.pk}/export/", {"kind": "clip"}, format="json").json()["id"]
           for s in scenes]
    run_queued("export")
    Export.objects.filter(pk=ids[0]).update(expires_at=timezone.now() - timedelta(seconds=1))
    from kissweb.jobs.sweeper import run_sweep

    with django_capture_on_commit_callbacks(execute=True):
        assert run_sweep()["export"]["expired"] == [ids[0]]  # the one sweeper does the exports' housekeeping
    assert list(Export.objects.values_list("pk", flat=True)) == [ids[1]]
    assert len(export_files(media_root)) == 1
    assert api_client.get(f"/api/exports/{ids[0]}/").status_code == 404


def test_the_sweeper_removes_what_killed_workers_left_and_keeps_what_is_in_use(api_client, scenes, media_root):
    import os
    import time

    export_id = api_client.post(f"/api/segments/{scenes[0].pk}/export/", {"kind": "clip"}, format="json").json()["id"]
    run_queued("export")
    folder = media_root / "exports"
    kept = media_root / Export.objects.get(pk=export_id).file
    old_render, new_render, orphan = folder / ".render-old", folder / ".render-new", folder / "9999-lost.mp4"
    for path in (old_render / "partial.mp4", new_render / "partial.mp4", orphan):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    for path in (old_render / "partial.mp4", old_render, orphan, kept):
        os.utime(path, (two_hours_ago, two_hours_ago))
    swept = export_sweep()
    assert swept["abandoned"] == [".render-old"] and swept["orphans"] == ["9999-lost.mp4"]
    assert sorted(p.name for p in folder.iterdir()) == sorted([".render-new", kept.name])


def test_an_export_cancelled_while_it_renders_stops_and_leaves_no_file(api_client, scenes, media_root, monkeypatch):
    from kissweb.exports.runners import ExportRunner
    from kissweb.jobs.models import Run
    from kissweb.jobs.runner import run_cancel

    body = api_client.post(f"/api/segments/{scenes[0].pk}/export/", {"kind": "clip"}, format="json").json()
    real_report = ExportRunner.report
    seen = []

    def report(self, *, progress, stage=None, eta_s=None, force=False):
        seen.append(progress)
        if progress > 0.3 and not Run.objects.get(pk=body["run"]).cancel_requested:
            run_cancel(run=Run.objects.get(pk=body["run"]))  # someone presses Cancel halfway
        return real_report(self, progress=progress, stage=stage, eta_s=eta_s, force=True)

    monkeypatch.setattr(ExportRunner, "report", report)
    assert run_queued("export") == ["cancelled"]
    assert max(seen) < 1.0
    after = api_client.get(f"/api/exports/{body['id']}/").json()
    assert after["status"] == "cancelled" and after["download_url"] is None
    assert export_files(media_root) == []  # no partial file, no render folder
