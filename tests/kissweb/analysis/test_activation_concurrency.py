"""Many activations of one model at once (issue 19 item 6): 20 parallel POST /api/models/{id}/activate/ on their own
database connections. Before, some died with DeadlockDetected (500); each must now answer 200, and one model stays
active with one queued re-score per movie."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from kissweb.analysis import pipeline, services
from kissweb.jobs.models import Run
from kissweb.analysis.models import ModelVersion

PARALLEL = 20


def _activate_in_parallel(version_ids: list[int], staff_user) -> list[int]:
    from rest_framework.test import APIClient

    barrier = threading.Barrier(len(version_ids))
    statuses: list[int] = []
    lock = threading.Lock()

    def one(version_id: int) -> None:
        client = APIClient(raise_request_exception=False)
        client.force_authenticate(user=staff_user)
        try:
            barrier.wait(timeout=30)
            status = client.post(f"/api/models/{version_id}/activate/").status_code
        finally:
            connection.close()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one, args=(version_id,)) for version_id in version_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


@pytest.fixture
def analysed_movies(make_movie, embedder):
    movies = [make_movie(title=f"Film {n}") for n in range(3)]
    for movie in movies:
        pipeline.analysis_run(analysis_id=services.analysis_request(movie=movie).pk)
    return movies


@pytest.mark.django_db(transaction=True)
@pytest.mark.off_schema  # answers are checked here; the schema check patches the client, not per thread
def test_twenty_parallel_activations_of_one_model_never_answer_500(analysed_movies, kissing, model_file, staff_user):
    version = services.model_version_create(scene_type=kissing, file=model_file())
    statuses = _activate_in_parallel([version.pk] * PARALLEL, staff_user)
    assert len(statuses) == PARALLEL and set(statuses) == {200}, statuses
    assert list(ModelVersion.objects.filter(is_active=True).values_list("pk", flat=True)) == [version.pk]
    for movie in analysed_movies:
        assert Run.objects.filter(lock_key=f"movie:{movie.pk}", status__in=["queued", "running"]).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.off_schema
def test_parallel_activations_of_two_models_leave_one_active(analysed_movies, kissing, model_file, staff_user):
    first = services.model_version_create(scene_type=kissing, file=model_file(), name="first")
    second = services.model_version_create(scene_type=kissing, file=model_file(), name="second")
    statuses = _activate_in_parallel([first.pk, second.pk] * (PARALLEL // 2), staff_user)
    assert set(statuses) == {200}, statuses
    assert ModelVersion.objects.filter(is_active=True).count() == 1


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")  # pg_stat_activity is one snapshot per transaction
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.off_schema
def test_an_activation_and_a_worker_writing_a_movie_do_not_deadlock(analysed_movies, kissing, model_file, staff_user):
    """What the red team met: a worker's write holds a movie and inserts rows naming the scene type, while an
    activation holds the scene type and queues that movie's re-score. The activation's lock on the scene type and
    the model must not block the worker's foreign keys."""
    import time

    from django.db import transaction

    from kissweb.library.models import Movie, Segment

    version = services.model_version_create(scene_type=kissing, file=model_file())
    movie = analysed_movies[-1]
    holding = threading.Event()
    worker_error: list[BaseException] = []

    def worker() -> None:
        try:
            with transaction.atomic():
                Movie.objects.select_for_update().get(pk=movie.pk)
                holding.set()
                deadline = time.monotonic() + 30
                while not _waiting_on_locks() and time.monotonic() < deadline:  # the activation waits for the movie
                    time.sleep(0.02)
                Segment.objects.create(movie=movie, scene_type=kissing, start_s=1, end_s=2, source="manual")
        except BaseException as exc:  # noqa: BLE001 - reported below
            worker_error.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    assert holding.wait(timeout=30)
    statuses = _activate_in_parallel([version.pk], staff_user)
    thread.join(timeout=60)
    assert statuses == [200]
    assert worker_error == []
    assert ModelVersion.objects.get(is_active=True) == version
