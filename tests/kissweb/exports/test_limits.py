"""Limits of exports and what people read about them: the per-person quota (429 with Retry-After), the length cap of
every kind, the contact sheet's row cap said out loud, a film deleted mid-export, a broken frame rate, errors
without server paths, and download names that are not ASCII."""

from __future__ import annotations

from urllib.parse import unquote

import numpy as np
import pytest
from PIL import Image

from kissweb.exports import services
from kissweb.exports.models import Export
from kissweb.jobs.models import Run
from kissweb.library.models import Segment
from tests.kissweb.exports.conftest import run_queued
from tests.kissweb.exports.media import colour_of, frames, stream_facts
from tests.openapi import assert_matches_schema, published_schema

pytestmark = pytest.mark.django_db


def clip(client, segment, **body):
    return client.post(f"/api/segments/{segment.pk}/export/", {"kind": "clip", **body}, format="json")


def test_one_person_may_have_only_so_many_exports_queued_or_running(api_client, other_client, scenes, film, settings):
    settings.KISSWEB_EXPORT_MAX_ACTIVE = 2
    assert [clip(api_client, s).status_code for s in scenes] == [202, 202]
    for path, body in [(f"/api/segments/{scenes[0].pk}/export/", {"kind": "clip"}),
                       (f"/api/movies/{film.pk}/exports/", {"kind": "supercut", "scene_type": "kissing"}),
                       ("/api/exports/", {"kind": "supercut", "scene_type": "kissing"})]:
        refused = api_client.post(path, body, format="json")
        assert refused.status_code == 429, (path, refused.content)
        assert_matches_schema(refused, "post", path)
        assert refused.json()["code"] == "export_quota" and int(refused["Retry-After"]) >= 1
        assert "2 exports queued or being made" in refused.json()["detail"]
    assert Export.objects.count() == 2
    assert clip(other_client, scenes[0]).status_code == 202  # a quota per person, not per server
    assert run_queued("export") == ["succeeded"] * 3
    assert clip(api_client, scenes[0]).status_code == 202  # finished exports no longer count


def test_the_retry_after_is_the_soonest_eta(api_client, scenes, settings):
    settings.KISSWEB_EXPORT_MAX_ACTIVE = 1
    body = clip(api_client, scenes[0]).json()
    Run.objects.filter(pk=body["run"]).update(eta_s=42.2)
    assert clip(api_client, scenes[1])["Retry-After"] == "43"


def test_a_ten_hour_scene_is_refused_for_clips_and_supercuts(api_client, scenes, film, kissing):
    film.duration_s = 36_000.0
    film.save(update_fields=["duration_s"])
    long = Segment.objects.create(movie=film, scene_type=kissing, start_s=12.0, end_s=36_000.0, source="manual")
    Segment.objects.filter(pk__in=[s.pk for s in scenes]).delete()
    refused = clip(api_client, long, padding_s=0)
    assert refused.status_code == 422 and refused.json()["code"] == "export_too_long"
    assert "9:59:48" in refused.json()["detail"] and "at most 30:00" in refused.json()["detail"]
    assert_matches_schema(refused, "post", f"/api/segments/{long.pk}/export/")
    refused = api_client.post(f"/api/movies/{film.pk}/exports/", {"kind": "supercut", "scene_type": "kissing"},
                              format="json")
    assert refused.status_code == 422 and refused.json()["code"] == "export_too_long"
    assert not Export.objects.exists()
    sheet = api_client.post(f"/api/movies/{film.pk}/exports/", {"kind": "contact_sheet", "scene_type": "kissing"},
                            format="json")
    assert sheet.status_code == 202  # a contact sheet is six frames per scene, whatever its length


def test_a_supercut_keeps_the_scenes_that_fit_and_says_how_many_it_left_out(api_client, scenes, film, settings):
    settings.KISSWEB_EXPORT_MAX_MINUTES = 4 / 60  # the 3 s scene fits, the 2 s one would make 5 s
    assert clip(api_client, scenes[0]).status_code == 422  # 3 s + 1 s on each side
    assert clip(api_client, scenes[0], padding_s=0.5).status_code == 202
    body = api_client.post(f"/api/movies/{film.pk}/exports/", {"kind": "supercut", "scene_type": "kissing"},
                           format="json").json()
    assert body["scene_count"] == 1 and body["scenes_left_out"] == 1
    assert body["note"] == ("The supercut holds the first 1 of the 2 kissing scenes: more would make it longer than "
                            "0:04, the longest an export may last.")
    body = api_client.post("/api/exports/", {"kind": "supercut", "scene_type": "kissing"}, format="json").json()
    assert body["scene_count"] == 1 and body["scenes_left_out"] == 1 and "1 of the 2 scenes" in body["note"]


def test_a_contact_sheet_says_when_rows_were_cut(api_client, scenes, film, media_root, monkeypatch):
    from kissweb.exports.sheet import FOOTER_BACKGROUND, FOOTER_HEIGHT

    monkeypatch.setattr(services, "SHEET_MAX_ROWS", 1)
    response = api_client.post(f"/api/movies/{film.pk}/exports/", {"kind": "contact_sheet", "scene_type": "kissing"},
                               format="json")
    body = response.json()
    assert body["scene_count"] == 1 and body["scenes_left_out"] == 1
    assert body["note"] == "The contact sheet shows the first 1 of the 2 kissing scenes: a sheet has at most 1 rows."
    assert run_queued("export") == ["succeeded"]
    response = api_client.get(f"/api/exports/{body['id']}/download/")
    path = media_root.parent / "sheet.png"
    path.write_bytes(b"".join(response.streaming_content))
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    band = image[-FOOTER_HEIGHT + 2:-2]
    assert (np.abs(band - FOOTER_BACKGROUND).sum(axis=2) < 10).mean() > 0.8  # the band is there
    assert (band.sum(axis=2) < 200).any()  # with dark writing on it
    assert colour_of(image[(image.shape[0] - FOOTER_HEIGHT) // 2 - 5:(image.shape[0] - FOOTER_HEIGHT) // 2 + 5,
                           400:420]) == "green"


def test_deleting_the_film_stops_its_exports_at_once(api_client, scenes, film, media_root, monkeypatch):
    from kissweb.exports.runners import ExportRunner

    body = clip(api_client, scenes[0]).json()
    real_report = ExportRunner.report
    after_delete = []

    def report(self, *, progress, stage=None, eta_s=None, force=False):
        if not Export.objects.filter(pk=body["id"]).exists():
            after_delete.append(progress)
        elif progress >= 0.1:  # the pictures have started
            assert api_client.delete(f"/api/movies/{film.pk}/").status_code == 204  # deleted while it renders
        return real_report(self, progress=progress, stage=stage, eta_s=eta_s, force=True)

    monkeypatch.setattr(ExportRunner, "report", report)
    assert run_queued("export") == ["gone"]
    assert after_delete == []  # the report that saw the deletion stopped it: nothing more was rendered
    run = Run.objects.get(pk=body["run"])
    assert run.status == "cancelled" and run.error == "The export was deleted."
    assert not (media_root / "exports").exists() or not any((media_root / "exports").iterdir())


def test_deleting_the_film_cancels_its_queued_exports(api_client, scenes, film):
    body = clip(api_client, scenes[0]).json()
    assert api_client.delete(f"/api/movies/{film.pk}/").status_code == 204
    assert Run.objects.get(pk=body["run"]).status == "cancelled"  # at once, not when a worker gets to it


def test_a_film_whose_frame_rate_reads_about_zero_exports_at_a_sane_rate(api_client, scenes, film, media_root):
    film.fps = 0.001
    film.save(update_fields=["fps"])
    supercut = api_client.post(f"/api/movies/{film.pk}/exports/",
                               {"kind": "supercut", "scene_type": "kissing", "title_cards": True}, format="json")
    one = clip(api_client, scenes[0])
    assert run_queued("export") == ["succeeded", "succeeded"]
    for export_id in (supercut.json()["id"], one.json()["id"]):
        path = media_root / Export.objects.get(pk=export_id).file
        assert stream_facts(path)["fps"] == pytest.approx(25.0)
    assert colour_of(frames(media_root / Export.objects.get(pk=one.json()["id"]).file)[60][1]) == "green"


def test_a_failed_exports_error_carries_no_server_path(api_client, scenes, film, media_root, monkeypatch, caplog):
    from kissweb.exports import render

    source = media_root / film.file.name

    def broken(path, *, expected_s):
        raise render.RenderError(f"MoviePy error: failed to read the duration of file {source}.")

    monkeypatch.setattr(render, "check_written", broken)
    body = clip(api_client, scenes[0], padding_s=0).json()
    run_queued("export")
    Run.objects.filter(pk=body["run"]).update(status="queued", finished_at=None)
    run_queued("export")  # the second and last attempt
    shown = api_client.get(f"/api/exports/{body['id']}/").json()
    assert shown["status"] == "failed" and str(media_root) not in shown["error"] and ".mp4" not in shown["error"]
    assert "'Casablanca'" in shown["error"]
    listed = api_client.get("/api/exports/").json()["results"][0]
    assert listed["error"] == shown["error"]
    assert str(media_root) not in api_client.get(f"/api/runs/{body['run']}/").json()["error"]


def test_a_title_that_is_not_ascii_downloads_under_its_own_name(api_client, scenes, film):
    film.title = "Amélie – 東京"
    film.save(update_fields=["title"])
    body = clip(api_client, scenes[0]).json()
    run_queued("export")
    response = api_client.get(f"/api/exports/{body['id']}/download/")
    header = response["Content-Disposition"]
    assert "=?" not in header  # not RFC 2047
    assert header == ('attachment; filename="Amelie-clip-0-04.mp4"; '
                      "filename*=UTF-8''Am%C3%A9lie--%E6%9D%B1%E4%BA%AC-clip-0-04.mp4")
    charset, _, quoted = header.split("filename*=")[1].split("'", 2)
    assert charset == "UTF-8" and unquote(quoted) == "Amélie--東京-clip-0-04.mp4"  # what a browser saves it as
    assert api_client.get(f"/api/exports/{body['id']}/").json()["file_name"] == "Amélie--東京-clip-0-04.mp4"


def test_every_export_is_scaled_to_the_max_height(api_client, scenes, film, media_root, settings):
    settings.KISSWEB_EXPORT_MAX_HEIGHT = 120
    one = clip(api_client, scenes[0]).json()
    supercut = api_client.post(f"/api/movies/{film.pk}/exports/", {"kind": "supercut", "scene_type": "kissing"},
                               format="json").json()
    assert run_queued("export") == ["succeeded", "succeeded"]
    for export_id in (one["id"], supercut["id"]):
        facts = stream_facts(media_root / Export.objects.get(pk=export_id).file)
        assert (facts["width"], facts["height"]) == (160, 120), export_id


def test_exports_wait_on_their_own_queue_below_analyses(api_client, scenes, film, settings,
                                                        django_capture_on_commit_callbacks):
    from django_q.models import OrmQ

    from kissweb.analysis.services import analysis_request

    with django_capture_on_commit_callbacks(execute=True):
        body = clip(api_client, scenes[0]).json()
        analysis_request(movie=film, requested_by=None)
    queues = {task.task["name"]: task.key for task in OrmQ.objects.all()}
    assert queues[f"export-{body['run']}"] == "kissweb-exports"  # not in front of (or behind) the analyses
    assert [key for name, key in queues.items() if not name.startswith("export-")] == ["kissweb"]
    assert settings.KISSWEB_QUEUES["exports"]["nice"] > settings.KISSWEB_QUEUES["work"]["nice"]  # and below them


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_of_one_person_are_counted_one_after_another(user, scenes, settings):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection
    from rest_framework.test import APIClient

    settings.KISSWEB_EXPORT_MAX_ACTIVE = 3
    published_schema()  # built once here: its first build is not thread-safe

    def ask(_):
        client = APIClient()
        client.force_authenticate(user)
        try:
            return clip(client, scenes[0]).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = sorted(pool.map(ask, range(16)))
    assert answers == [202] * 3 + [429] * 13
    assert Export.objects.count() == 3
