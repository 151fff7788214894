"""Housekeeping removes the stored embeddings no model can use any more (their models were deleted, or the weights
they came from are not the standard sets' any more), keeps every other, and staff sees the space it frees."""

from __future__ import annotations

import pytest

from kissweb.analysis.backbones import standard_digest
from kissweb.analysis.housekeeping import EmbeddingsCleanupRunner, embeddings_unused_size
from kissweb.analysis.models import ModelVersion, MovieEmbedding
from kissweb.jobs.models import Run

pytestmark = pytest.mark.django_db

URL = "/api/embeddings/cleanup/"


def _embedding(movie, media_root, *, backbone_set: str, digest: str, size: int) -> MovieEmbedding:
    name = f"embeddings/movie-{movie.pk}-{backbone_set}-{digest[:4]}.npy"
    (media_root / "embeddings").mkdir(exist_ok=True)
    (media_root / name).write_bytes(b"\0" * size)
    return MovieEmbedding.objects.create(
        movie=movie, backbone_set=backbone_set, backbone_digest=digest, file=name, n_windows=30, image_dim=1280,
        audio_dim=128,
    )


@pytest.fixture
def library(kissing, make_movie, media_root):
    """Five stored embeddings: three that a model can still use and two that none can."""
    film, busy_film = make_movie(title="Film"), make_movie(title="Busy")
    ModelVersion.objects.create(scene_type=kissing, name="published", backbone_set="published",
                                backbone_digest="a" * 64)
    kept = [
        _embedding(film, media_root, backbone_set="offline", digest=standard_digest("offline"), size=1000),
        _embedding(film, media_root, backbone_set="published", digest="a" * 64, size=2000),
        # a film being analysed keeps its embeddings until its run is over
        _embedding(busy_film, media_root, backbone_set="published", digest="d" * 64, size=4000),
    ]
    Run.objects.create(kind="analyze", subject_type="movie", subject_id=busy_film.pk,
                       lock_key=f"movie:{busy_film.pk}", status="queued")
    unused = [
        _embedding(film, media_root, backbone_set="published", digest="b" * 64, size=300_000),  # its model is gone
        _embedding(film, media_root, backbone_set="offline", digest="c" * 64, size=200_000),  # weights of before
    ]
    return kept, unused


def test_the_sweeper_queues_a_cleanup_that_removes_only_what_no_model_uses(
    library, media_root, django_capture_on_commit_callbacks
):
    kept, unused = library
    assert embeddings_unused_size() == {"files": 2, "bytes": 500_000}
    with django_capture_on_commit_callbacks(execute=False):
        queued = EmbeddingsCleanupRunner.sweep()
    assert queued and len(queued["queued"]) == 1
    with django_capture_on_commit_callbacks(execute=True):
        EmbeddingsCleanupRunner.execute(queued["queued"][0])
    run = Run.objects.get(pk=queued["queued"][0])
    assert run.status == "succeeded"
    assert run.stage == "removed 2 unused embedding file(s), 0.5 MB freed"
    assert set(MovieEmbedding.objects.values_list("pk", flat=True)) == {e.pk for e in kept}
    assert all((media_root / e.file.name).exists() for e in kept)
    assert not any((media_root / e.file.name).exists() for e in unused)
    assert embeddings_unused_size() == {"files": 0, "bytes": 0}
    assert EmbeddingsCleanupRunner.sweep() is None  # nothing left: no run queued


def test_staff_sees_what_a_cleanup_would_free_and_what_the_last_one_freed(
    library, staff_client, django_capture_on_commit_callbacks
):
    before = staff_client.get(URL)
    assert before.status_code == 200
    assert before.json() == {"unused": {"files": 2, "bytes": 500_000}, "run": None}
    with django_capture_on_commit_callbacks(execute=False):
        queued = staff_client.post(URL)
    assert queued.status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        EmbeddingsCleanupRunner.execute(queued.json()["id"])
    after = staff_client.get(URL).json()
    assert after["unused"] == {"files": 0, "bytes": 0}
    assert after["run"]["status"] == "succeeded" and after["run"]["stage"].endswith("0.5 MB freed")


def test_only_staff_may_look_or_clean(library, api_client, anon_client):
    for client, refused in ((api_client, 403), (anon_client, 401)):
        assert client.get(URL).status_code == refused
        assert client.post(URL).status_code == refused
    assert MovieEmbedding.objects.count() == 5
