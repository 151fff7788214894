"""Services called directly: what an upload leaves behind when a step fails."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kissweb.library import services
from kissweb.analysis.models import Analysis
from kissweb.library.models import Movie
from tests.kissweb.library.conftest import files_under

pytestmark = pytest.mark.django_db


def as_upload(path, name=None):
    return SimpleUploadedFile(name or path.name, path.read_bytes(), content_type="video/mp4")


def test_movie_create_from_an_in_memory_file(user, small_video, media_root):
    movie = services.movie_create(uploaded_file=as_upload(small_video), title="", year=None, user=user)
    assert movie.status == "queued" and movie.title == "small"
    assert sorted(p.parent.name for p in files_under(media_root)) == ["movies", "posters"]


@pytest.mark.parametrize("failing_step", ["poster", "database", "queue"])
def test_a_failure_at_any_step_leaves_nothing(user, small_video, media_root, monkeypatch, failing_step):
    import detector

    import kissweb.analysis.services as analysis_services

    boom = RuntimeError(f"{failing_step} failed")

    def fail(*args, **kwargs):
        raise boom

    if failing_step == "poster":
        monkeypatch.setattr(detector, "extract_frame", fail)
    elif failing_step == "database":
        monkeypatch.setattr(Movie.objects, "create", fail)
    else:
        monkeypatch.setattr(analysis_services, "analysis_request", fail)
    with pytest.raises(RuntimeError, match=failing_step):
        services.movie_create(uploaded_file=as_upload(small_video), title="x", year=None, user=user)
    assert Movie.objects.count() == 0 and Analysis.objects.count() == 0
    assert files_under(media_root) == []


def test_original_name_is_never_a_path(user, small_video, media_root):
    movie = services.movie_create(uploaded_file=as_upload(small_video, name="../../etc/passwd.mp4"), user=user)
    assert movie.original_filename == "passwd.mp4"
    assert movie.file.name.startswith("movies/") and "passwd" not in movie.file.name
    assert all(media_root in p.parents for p in files_under(media_root))


@pytest.mark.parametrize(
    ("container", "original", "ext"),
    [("mov", "a.mp4", ".mp4"), ("mov", "a.MOV", ".mov"), ("mov", "a.avi", ".mp4"), ("mov,mp4,m4a", "a", ".mp4"),
     ("matroska", "a.webm", ".webm"), ("webm", "a.mkv", ".mkv"), ("matroska", "a.mp4", ".mkv"),
     ("avi", "x.mp4", ".avi"), ("weird", "x.mp4", ".bin")],
)
def test_container_extension(container, original, ext):
    assert services.container_extension(container=container, original_filename=original) == ext


def test_segment_review_by_another_person_keeps_both(user, other_user, make_movie, kissing):
    from tests.kissweb.library.conftest import detected_segment

    segment = detected_segment(make_movie(user), kissing, 1, 5)
    services.segment_review(segment=segment, verdict="confirm", user=user)
    services.segment_review(segment=segment, verdict="reject", user=other_user)
    services.segment_review(segment=segment, verdict="reject", user=user)
    assert sorted(segment.reviews.values_list("author__username", "label")) == [
        ("alice", "negative"), ("bob", "negative")]
