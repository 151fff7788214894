"""One attempt of the pipeline, run in-process: results, progress, and every fault it must survive."""

from __future__ import annotations

import errno
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.db import OperationalError
from django.utils import timezone

import detector
from kissweb.analysis import conf, pipeline, storage
from kissweb.jobs import runner as jobs_runner
from kissweb.jobs.models import Run
from kissweb.analysis.services import analysis_request
from kissweb.analysis.models import Analysis, AnalysisStatus, MovieEmbedding, ScoreTrack
from kissweb.library.models import MovieStatus, Segment, SegmentSource

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def every_progress_written(monkeypatch):
    monkeypatch.setattr(jobs_runner, "PROGRESS_EVERY_S", 0.0)


def _run(movie):
    analysis = analysis_request(movie=movie)
    outcome = pipeline.analysis_run(analysis_id=analysis.pk)
    return outcome, Analysis.objects.filter(pk=analysis.pk).first()


def _detected(movie):
    return list(
        Segment.objects.filter(movie=movie, source=SegmentSource.DETECTED).order_by("start_s").values_list(
            "start_s", "end_s"
        )
    )


def _embedding_files(media_root):
    folder = media_root / "embeddings"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_analysis_finds_the_scene_at_the_positive_seconds(make_movie, embedder, active_model, media_root):
    version = active_model()
    embedder.positive = set(range(10, 22))
    movie = make_movie(duration_s=30.0)

    outcome, analysis = _run(movie)

    assert outcome == "succeeded"
    movie.refresh_from_db()
    assert (movie.status, movie.progress, movie.error) == (MovieStatus.READY, 1.0, "")
    assert analysis.status == AnalysisStatus.SUCCEEDED and analysis.attempts == 1 and analysis.progress == 1.0
    assert analysis.backbone_set == "offline"
    assert list(analysis.model_versions.all()) == [version]
    assert _detected(movie) == [(10.0, 22.0)]
    assert analysis.changes["kissing"]["added"] == [[10.0, 22.0]]
    assert {"embed", "decode", "score", "aggregate", "write", "total"} <= set(analysis.timings_s)
    # which decoder read the pictures, and why, is part of the analysis record
    assert analysis.timings_s["decoding"] == {"backend": "ffmpeg", "decoders": 1, "reason": "the networks run on the CPU"}
    track = ScoreTrack.objects.get(movie=movie, model_version=version)
    scores = np.frombuffer(bytes(track.scores), dtype="<f4")
    assert track.n_windows == 30 and scores[15] > 0.99 and scores[5] < 0.01
    embedding = MovieEmbedding.objects.get(movie=movie)
    assert embedding.backbone_set == "offline" and embedding.n_windows == 30
    assert storage.embedding_features(embedding).shape == (30, 1408)
    assert len(embedder.calls) == 1


def test_without_an_active_model_the_movie_is_ready_and_its_embeddings_kept(make_movie, embedder, media_root):
    movie = make_movie()

    outcome, analysis = _run(movie)

    assert outcome == "succeeded"
    movie.refresh_from_db()
    assert movie.status == MovieStatus.READY
    assert MovieEmbedding.objects.filter(movie=movie).count() == 1
    assert not ScoreTrack.objects.filter(movie=movie).exists() and _detected(movie) == []
    assert "no model yet" in analysis.changes["kissing"]["skipped"]


def test_reanalysis_replaces_only_detected_segments_and_reports_the_changes(
    make_movie, embedder, active_model, kissing, user
):
    active_model()
    embedder.n_windows = 60
    embedder.positive = set(range(10, 22)) | set(range(40, 52))
    movie = make_movie(duration_s=60.0)
    manual = Segment.objects.create(
        movie=movie, scene_type=kissing, start_s=0.0, end_s=5.0, source=SegmentSource.MANUAL, created_by=user
    )
    _run(movie)
    assert _detected(movie) == [(10.0, 22.0), (40.0, 52.0)]

    embedder.positive = set(range(12, 26))
    outcome, second = _run(movie)

    assert outcome == "succeeded"
    assert _detected(movie) == [(12.0, 26.0)]
    assert set(Segment.objects.filter(movie=movie, source=SegmentSource.DETECTED).values_list("analysis", flat=True)) == {
        second.pk
    }
    assert second.changes["kissing"]["moved"] == [{"from": [10.0, 22.0], "to": [12.0, 26.0]}]
    assert second.changes["kissing"]["removed"] == [[40.0, 52.0]]
    assert second.changes["kissing"]["added"] == []
    manual.refresh_from_db()
    assert (manual.start_s, manual.end_s, manual.source) == (0.0, 5.0, SegmentSource.MANUAL)
    assert MovieEmbedding.objects.filter(movie=movie).count() == 1


def test_progress_and_heartbeat_move_while_embedding(make_movie, embedder, active_model):
    active_model()
    movie = make_movie()
    seen = []

    def look(index):
        if index in (5, 20):
            analysis = Analysis.objects.get(movie=movie)
            movie.refresh_from_db()
            seen.append((analysis.progress, analysis.stage, analysis.eta_s, analysis.heartbeat_at, movie.progress,
                         movie.status))

    embedder.on_window = look
    _run(movie)

    (p1, stage1, eta1, beat1, mp1, status1), (p2, _, eta2, beat2, mp2, _) = seen
    assert stage1 == "embedding" and status1 == MovieStatus.ANALYZING
    assert 0 < p1 < p2 < 1 and 0 < mp1 < mp2 < 1
    assert eta1 is not None and eta2 is not None
    assert beat2 >= beat1


def test_a_corrupt_file_fails_once_with_a_clear_reason(make_movie, embedder, active_model, media_root):
    active_model()
    movie = make_movie()
    (media_root / movie.file.name).write_bytes(b"not a video at all")

    def undecodable(index):
        raise detector.DecodeError(f"{movie.file.name} is not a video file (no video stream found).")

    embedder.on_window = undecodable

    outcome, analysis = _run(movie)

    assert outcome == "failed"
    movie.refresh_from_db()
    assert movie.status == MovieStatus.FAILED and "cannot be decoded" in movie.error and "not a video" in movie.error
    assert analysis.status == AnalysisStatus.FAILED and analysis.attempts == 1
    assert _embedding_files(media_root) == []


def test_disk_full_fails_with_a_clear_reason_and_keeps_the_movie(make_movie, embedder, active_model, media_root,
                                                                  monkeypatch):
    active_model()
    movie = make_movie()

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage.np, "save", no_space)

    outcome, analysis = _run(movie)

    assert outcome == "failed"
    movie.refresh_from_db()
    assert movie.status == MovieStatus.FAILED and "disk is full" in movie.error
    assert (media_root / movie.file.name).is_file()
    assert not MovieEmbedding.objects.filter(movie=movie).exists() and _embedding_files(media_root) == []


def test_a_short_write_without_errno_is_a_full_disk_found_once(make_movie, embedder, active_model, media_root,
                                                               monkeypatch):
    """Fault 6: NumPy reports a full disk as "N requested and M written" with no errno; it used to be retried, which
    decoded the whole film three times to meet the same full disk."""
    from kissweb.library.uploads import StorageFull

    active_model()
    movie = make_movie()

    def disk_fills_up(handle, array, **kwargs):  # what ndarray.tofile raises when the file system takes less
        raise OSError(f"{array.nbytes} requested and {array.nbytes // 3} written")

    monkeypatch.setattr(storage.np, "save", disk_fills_up)

    outcome, analysis = _run(movie)

    assert outcome == "failed" and analysis.attempts == 1 and len(embedder.calls) == 1
    movie.refresh_from_db()
    upload_words = StorageFull().detail.split(", so ")[0]
    assert movie.status == MovieStatus.FAILED and movie.error.startswith(upload_words)
    assert "KISSWEB_DATA_DIR" in movie.error and "Analyse again" in movie.error
    assert not MovieEmbedding.objects.filter(movie=movie).exists() and _embedding_files(media_root) == []


def test_database_unavailable_mid_run_is_retried_with_a_reason(
    make_movie, embedder, active_model, media_root, django_capture_on_commit_callbacks
):
    active_model()
    movie = make_movie()

    def connection_lost(index):
        if index == 5:
            raise OperationalError("server closed the connection unexpectedly")

    embedder.on_window = connection_lost
    analysis = analysis_request(movie=movie)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        outcome = pipeline.analysis_run(analysis_id=analysis.pk)

    assert outcome == "retrying"
    analysis.refresh_from_db()
    movie.refresh_from_db()
    assert analysis.status == AnalysisStatus.QUEUED and analysis.attempts == 1
    assert "database was unreachable" in analysis.error and "Trying again" in analysis.error
    assert movie.status == MovieStatus.QUEUED and (media_root / movie.file.name).is_file()
    assert len(queued) == 1  # the retry is enqueued once this commits
    assert _detected(movie) == [] and _embedding_files(media_root) == []


def test_after_three_failed_attempts_the_movie_fails_with_the_last_reason(make_movie, embedder, active_model):
    active_model()
    movie = make_movie()

    def broken(index):
        raise RuntimeError("the GPU driver crashed")

    embedder.on_window = broken
    analysis = analysis_request(movie=movie)
    outcomes = [pipeline.analysis_run(analysis_id=analysis.pk) for _ in range(3)]

    assert outcomes == ["retrying", "retrying", "failed"]
    analysis.refresh_from_db()
    movie.refresh_from_db()
    assert analysis.status == AnalysisStatus.FAILED and analysis.attempts == 3
    assert movie.status == MovieStatus.FAILED
    assert "gave up after 3 attempts" in movie.error and "GPU driver crashed" in movie.error


def test_a_fourth_delivery_of_a_dead_run_fails_instead_of_looping(make_movie, embedder, active_model):
    active_model()
    movie = make_movie()
    analysis = analysis_request(movie=movie)
    stale = timezone.now() - timedelta(seconds=conf.stale_after_s() + 5)
    Run.objects.filter(analysis=analysis).update(status=AnalysisStatus.RUNNING, attempts=3, heartbeat_at=stale)

    assert pipeline.analysis_run(analysis_id=analysis.pk) == "skipped"

    analysis.refresh_from_db()
    movie.refresh_from_db()
    assert analysis.status == AnalysisStatus.FAILED and movie.status == MovieStatus.FAILED
    assert "gave up after 3 attempts" in movie.error
    assert embedder.calls == []


def test_a_duplicate_delivery_while_the_run_is_alive_is_ignored(make_movie, embedder):
    movie = make_movie()
    analysis = analysis_request(movie=movie)
    Run.objects.filter(analysis=analysis).update(status=AnalysisStatus.RUNNING, attempts=1, heartbeat_at=timezone.now())

    assert pipeline.analysis_run(analysis_id=analysis.pk) == "skipped"
    analysis.refresh_from_db()
    assert analysis.attempts == 1 and analysis.status == AnalysisStatus.RUNNING and embedder.calls == []


def test_a_finished_analysis_delivered_again_does_nothing(make_movie, embedder, active_model):
    active_model()
    embedder.positive = set(range(10, 22))
    movie = make_movie()
    _, analysis = _run(movie)
    segments_before = list(Segment.objects.filter(movie=movie).values_list("pk", flat=True))

    assert pipeline.analysis_run(analysis_id=analysis.pk) == "skipped"
    assert list(Segment.objects.filter(movie=movie).values_list("pk", flat=True)) == segments_before
    assert len(embedder.calls) == 1


def test_movie_deleted_while_embedding_stops_the_task_and_leaves_nothing(make_movie, embedder, active_model,
                                                                         media_root):
    active_model()
    movie = make_movie()
    movie_id = movie.pk

    def delete_movie(index):
        if index == 5:
            type(movie).objects.filter(pk=movie_id).delete()

    embedder.on_window = delete_movie
    outcome, analysis = _run(movie)

    assert outcome == "gone"
    assert analysis is None
    assert embedder.calls and len(embedder.calls) == 1
    assert _embedding_files(media_root) == []
    assert not MovieEmbedding.objects.filter(movie_id=movie_id).exists()
    assert not Segment.objects.filter(movie_id=movie_id).exists()
    assert not ScoreTrack.objects.filter(movie_id=movie_id).exists()


def test_movie_deleted_after_its_embeddings_were_stored_leaves_no_file(make_movie, embedder, active_model,
                                                                       media_root, monkeypatch):
    active_model()
    movie = make_movie()
    real_score = detector.score

    def score_then_delete(features, model):
        type(movie).objects.filter(pk=movie.pk).delete()
        return real_score(features, model)

    monkeypatch.setattr(detector, "score", score_then_delete)
    outcome, _ = _run(movie)

    assert outcome == "gone"
    assert _embedding_files(media_root) == []
    assert not Segment.objects.filter(movie_id=movie.pk).exists()


def test_a_run_taken_over_by_another_attempt_stops_without_writing(make_movie, embedder, active_model, media_root):
    active_model()
    embedder.positive = set(range(10, 22))
    movie = make_movie()

    def taken_over(index):
        if index == 5:
            Run.objects.filter(analysis__movie=movie).update(attempts=2)

    embedder.on_window = taken_over
    outcome, analysis = _run(movie)

    assert outcome == "skipped"
    assert analysis.status == AnalysisStatus.RUNNING and analysis.attempts == 2
    assert _detected(movie) == [] and _embedding_files(media_root) == []


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_moves_during_silent_work(make_movie, embedder, settings, monkeypatch):
    """Between progress reports (model loading, a slow decoder start) a thread keeps the heartbeat fresh."""
    import time

    settings.KISSWEB_JOBS_STALE_S = 1.5  # beats every 0.5 s
    monkeypatch.setattr(jobs_runner, "PROGRESS_EVERY_S", 3600.0)  # no progress writes after the first
    movie = make_movie()
    beats = []

    def silent_work(index):
        time.sleep(0.1)
        if index in (2, 25):
            beats.append(Analysis.objects.get(movie=movie).heartbeat_at)

    embedder.on_window = silent_work
    outcome, _ = _run(movie)

    assert outcome == "succeeded"
    assert (beats[1] - beats[0]).total_seconds() >= 1.0


def test_a_run_past_its_time_limit_fails_with_the_limit_in_the_reason(make_movie, embedder, media_root):
    from django_q.exceptions import TimeoutException

    movie = make_movie(duration_s=30.0)

    def too_slow(index):
        raise TimeoutException("Task exceeded maximum timeout value (960 seconds)")

    embedder.on_window = too_slow
    analysis = analysis_request(movie=movie)
    with pytest.raises(TimeoutException):
        pipeline.analysis_run(analysis_id=analysis.pk)

    analysis.refresh_from_db()
    movie.refresh_from_db()
    limit = conf.analysis_timeout_s(duration_s=30.0)
    assert analysis.status == AnalysisStatus.FAILED and movie.status == MovieStatus.FAILED
    assert f"limit of {limit} s" in movie.error and "KISSWEB_TASK_TIMEOUT_S" in movie.error
    assert _embedding_files(media_root) == []


def test_a_model_activated_during_the_run_gets_a_rescore_queued(make_movie, embedder, active_model, kissing,
                                                                 model_file):
    from kissweb.analysis.services import model_version_create
    from kissweb.analysis.models import ModelVersion

    first = active_model()
    newer = model_version_create(scene_type=kissing, file=model_file(), name="newer")
    movie = make_movie()

    def activate_newer(index):
        if index == 5:
            ModelVersion.objects.filter(pk=first.pk).update(is_active=False)
            ModelVersion.objects.filter(pk=newer.pk).update(is_active=True)

    embedder.on_window = activate_newer
    outcome, analysis = _run(movie)

    assert outcome == "succeeded" and list(analysis.model_versions.all()) == [first]
    follow_up = Analysis.objects.filter(movie=movie, run__status=AnalysisStatus.QUEUED).get()
    assert follow_up.kind == "rescore"
    assert pipeline.analysis_run(analysis_id=follow_up.pk) == "succeeded"
    follow_up.refresh_from_db()
    assert list(follow_up.model_versions.all()) == [newer] and len(embedder.calls) == 1


def test_a_confirmed_scene_keeps_its_review_after_a_settings_save_and_after_analysing_again(
    make_movie, embedder, active_model, kissing, user
):
    """Fault 13: segments are replaced on every re-derivation; the person's ✓ must follow the scene."""
    from kissweb.analysis.services import scene_type_settings_changed
    from kissweb.library.models import Annotation, SceneType
    from kissweb.library.services import segment_review

    active_model()
    embedder.n_windows = 60
    embedder.positive = set(range(10, 22)) | set(range(40, 52))
    movie = make_movie(duration_s=60.0)
    _run(movie)
    first, second = Segment.objects.filter(movie=movie, source=SegmentSource.DETECTED).order_by("start_s")
    confirmed = segment_review(segment=first, verdict="confirm", user=user)
    rejected = segment_review(segment=second, verdict="reject", user=user)

    def reviewed():
        return sorted(
            (a.label, a.segment.start_s, a.segment.end_s)
            for a in Annotation.objects.filter(pk__in=[confirmed.pk, rejected.pk]).select_related("segment")
            if a.segment is not None
        )

    SceneType.objects.filter(pk=kissing.pk).update(threshold=0.6)
    scene_type_settings_changed(scene_type=kissing, queue=False)
    assert reviewed() == [("negative", 40.0, 52.0), ("positive", 10.0, 22.0)]

    _run(movie)  # "analyse again": the same scenes, new rows
    assert reviewed() == [("negative", 40.0, 52.0), ("positive", 10.0, 22.0)]

    embedder.positive = set(range(12, 26))
    _run(movie)  # the confirmed scene moved a little, the rejected one is gone
    assert reviewed() == [("positive", 12.0, 26.0)]
    assert Annotation.objects.get(pk=rejected.pk).segment is None  # kept as the person's label of that span


def test_a_rescore_whose_model_cannot_be_read_fails_visibly(make_movie, embedder, active_model, kissing, model_file,
                                                            api_client):
    """Fault 5: it used to "succeed", skip the scene type and leave the previous model's segments as if current.
    The failed re-score then marked the movie failed although its scenes of before still stood: it stays ready, with
    those scenes, and the reason is shown as a warning."""
    from kissweb.analysis.services import model_version_activate, model_version_create

    active_model()
    embedder.positive = set(range(10, 22))
    movie = make_movie()
    _run(movie)
    scenes_before = _detected(movie)
    assert scenes_before
    newer = model_version_create(scene_type=kissing, file=model_file(), name="newer")
    Path(newer.weights.path).write_bytes(b"\x80 not a model any more")  # damaged on disk after it was registered
    plan = model_version_activate(model_version=newer)

    outcome = pipeline.analysis_run(analysis_id=plan.rescore[0])

    assert outcome == "failed"
    rescore = Analysis.objects.get(pk=plan.rescore[0])
    movie.refresh_from_db()
    assert rescore.status == AnalysisStatus.FAILED and rescore.attempts == 1
    assert "'newer'" in rescore.error and "cannot be read" in rescore.error and newer.weights.path not in rescore.error
    assert movie.status == MovieStatus.READY and movie.error == rescore.error
    assert _detected(movie) == scenes_before
    shown = api_client.get(f"/api/movies/{movie.pk}/").json()
    assert shown["status"] == "ready" and "'newer'" in shown["error"] and shown["run"] is None

    Path(newer.weights.path).write_bytes(model_file().read_bytes())  # mended: the next analysis that succeeds
    assert _run(movie)[0] == "succeeded"                               # clears the warning
    movie.refresh_from_db()
    assert movie.status == MovieStatus.READY and movie.error == ""
