"""The permission matrix: anonymous, another user, the owner and staff against every endpoint of the OpenAPI schema.

Each endpoint names the (kind, action) of kissweb.permissions.RULES it is governed by, and the policy's answer
decides what each of the four may get: refused (401 with `WWW-Authenticate: Token` for anonymous, 403 for a
signed-in person) or served (anything else below 500: a 400 for a dummy body is served, the permission let it through). An endpoint in
the schema that this table does not know fails the test: a new endpoint cannot escape the matrix.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from kissweb import permissions
from kissweb.permissions import ACTIVATE, CHANGE, CREATE, DELETE, EXPORT, READ, TRAIN
from tests.openapi import assert_matches_schema, published_schema

PUBLIC = None  # open to everyone, anonymous included


@dataclass(frozen=True)
class Case:
    rule: tuple[str, permissions.Action] | None
    body: dict = field(default_factory=dict)
    multipart: bool = False
    query: str = ""


def _junk_file(name="junk.bin"):
    return SimpleUploadedFile(name, b"not what it claims to be" * 8, content_type="application/octet-stream")


# (method, path as the schema writes it) -> how to exercise it and which rule governs it.
MATRIX: dict[tuple[str, str], Case] = {
    ("get", "/api/health/"): Case(PUBLIC),
    ("post", "/api/auth/token/"): Case(PUBLIC, {"username": "nobody", "password": "wrong"}),
    ("get", "/api/me/preferences/"): Case(("preferences", READ)),
    ("put", "/api/me/preferences/"): Case(("preferences", CHANGE), {"skip": {"kissing": "ask"}}),
    ("get", "/api/movies/"): Case(("movie", READ)),
    ("post", "/api/movies/"): Case(("movie", CREATE), {"file": "junk"}, multipart=True),
    ("get", "/api/movies/{movie_id}/"): Case(("movie", READ)),
    ("patch", "/api/movies/{movie_id}/"): Case(("movie", CHANGE), {"title": "Renamed"}),
    ("delete", "/api/movies/{movie_id}/"): Case(("movie", DELETE)),
    ("get", "/api/movies/{movie_id}/stream/"): Case(("movie", READ)),
    ("get", "/api/movies/{movie_id}/playback/"): Case(("movie", READ)),
    ("get", "/api/movies/{movie_id}/playable-copy/"): Case(("movie", READ)),
    ("get", "/api/movies/{movie_id}/poster/"): Case(("movie", READ)),
    ("get", "/api/movies/{movie_id}/thumbnail/"): Case(("movie", READ), query="?t=1"),
    ("get", "/api/movies/{movie_id}/chapters.vtt"): Case(("movie", READ)),
    ("get", "/api/movies/{movie_id}/segments/"): Case(("segment", READ)),
    ("post", "/api/movies/{movie_id}/segments/"): Case(("movie", CHANGE),
                                                       {"scene_type": "kissing", "start_s": 50, "end_s": 60}),
    ("get", "/api/movies/{movie_id}/annotations/"): Case(("annotation", READ)),
    ("post", "/api/movies/{movie_id}/annotations/"): Case(
        ("annotation", CREATE), {"scene_type": "kissing", "start_s": 50, "end_s": 60, "label": "positive"}),
    ("post", "/api/movies/{movie_id}/analyze/"): Case(("movie", CHANGE)),
    ("get", "/api/movies/{movie_id}/analyses/"): Case(("analysis", READ)),
    ("get", "/api/movies/{movie_id}/scores/"): Case(("movie", READ)),
    ("get", "/api/analyses/{analysis_id}/"): Case(("analysis", READ)),
    ("get", "/api/embeddings/cleanup/"): Case(("model", DELETE)),
    ("post", "/api/embeddings/cleanup/"): Case(("model", DELETE)),
    ("get", "/api/segments/"): Case(("segment", READ)),
    ("get", "/api/segments/{segment_id}/"): Case(("segment", READ)),
    ("patch", "/api/segments/{segment_id}/"): Case(("segment", CHANGE), {"end_s": 3}),
    ("delete", "/api/segments/{segment_id}/"): Case(("segment", DELETE)),
    ("post", "/api/segments/{segment_id}/review/"): Case(("annotation", CREATE), {"verdict": "confirm"}),
    ("get", "/api/annotations/{annotation_id}/"): Case(("annotation", READ)),
    ("patch", "/api/annotations/{annotation_id}/"): Case(("annotation", CHANGE), {"label": "negative"}),
    ("delete", "/api/annotations/{annotation_id}/"): Case(("annotation", DELETE)),
    ("get", "/api/scene-defaults/"): Case(("scene_type", READ)),
    ("get", "/api/scene-types/"): Case(("scene_type", READ)),
    ("post", "/api/scene-types/"): Case(("scene_type", CREATE), {"slug": "fight", "name": "Fight"}),
    ("get", "/api/scene-types/{slug}/"): Case(("scene_type", READ)),
    ("patch", "/api/scene-types/{slug}/"): Case(("scene_type", CHANGE), {"name": "Kisses"}),
    ("post", "/api/scene-types/{slug}/models/"): Case(("model", CREATE), {"file": "junk"}, multipart=True),
    ("post", "/api/scene-types/{slug}/import-reference/"): Case(("model", CREATE), {"file": "junk"}, multipart=True),
    ("post", "/api/scene-types/{slug}/train/"): Case(("scene_type", TRAIN)),
    ("get", "/api/scene-types/{slug}/training-runs/"): Case(("training_run", READ)),
    ("get", "/api/scene-types/{slug}/suggestions/"): Case(("scene_type", READ)),
    ("get", "/api/scene-types/{slug}/stats/"): Case(("scene_type", READ)),
    ("get", "/api/scene-types/{slug}/quality/"): Case(("scene_type", READ)),
    ("post", "/api/scene-types/{slug}/quality/"): Case(("scene_type", TRAIN)),
    ("get", "/api/scene-types/{slug}/published-model/"): Case(("model", CREATE)),
    ("post", "/api/scene-types/{slug}/published-model/"): Case(("model", CREATE)),
    ("get", "/api/training-runs/{run_id}/"): Case(("training_run", READ)),
    ("get", "/api/runs/{job_id}/"): Case(("run", READ)),
    ("post", "/api/runs/{job_id}/cancel/"): Case(("run", CHANGE)),
    ("get", "/api/models/"): Case(("model", READ)),
    ("get", "/api/models/{model_id}/"): Case(("model", READ)),
    ("get", "/api/models/{model_id}/download/"): Case(("model", EXPORT)),
    ("post", "/api/models/{model_id}/activate/"): Case(("model", ACTIVATE)),
    ("get", "/api/models/{model_id}/activation-cost/"): Case(("model", ACTIVATE)),
    # Exports: anyone who sees a film exports it; the export itself is its requester's (and staff's).
    ("post", "/api/segments/{segment_id}/export/"): Case(("segment", EXPORT), {"kind": "clip", "padding_s": 1}),
    ("post", "/api/movies/{movie_id}/exports/"): Case(("movie", EXPORT), {"kind": "supercut", "scene_type": "kissing"}),
    ("get", "/api/exports/"): Case(("export", CREATE)),  # every signed-in person lists their own
    ("post", "/api/exports/"): Case(("export", CREATE), {"kind": "supercut", "scene_type": "kissing"}),
    ("get", "/api/exports/{export_id}/"): Case(("export", READ)),
    ("delete", "/api/exports/{export_id}/"): Case(("export", DELETE)),
    ("get", "/api/exports/{export_id}/download/"): Case(("export", READ)),
}

ROLES = ("anonymous", "other", "owner", "staff")


def schema_operations() -> set[tuple[str, str]]:
    schema = published_schema()
    methods = {"get", "post", "put", "patch", "delete"}
    return {(method, path) for path, item in schema["paths"].items() for method in item if method in methods}


def expected_allowed(rule, role: str) -> bool:
    """What the policy's table says each role gets; the owner is the non-staff person who owns the objects."""
    if rule is PUBLIC:
        return True
    if role == "anonymous":
        return False
    kind, action = rule
    who = permissions.RULES[kind].get(action)
    if who is permissions.SIGNED_IN:
        return True
    if who is permissions.OWNER:
        return role in ("owner", "staff")
    return role == "staff"


@pytest.mark.django_db
def test_every_endpoint_of_the_schema_is_in_the_matrix():
    operations = schema_operations()
    unknown = sorted(operations - set(MATRIX))
    assert not unknown, (
        f"Endpoints the permission matrix does not know how to exercise: {unknown}. Add each to MATRIX in "
        "tests/kissweb/test_permission_matrix.py with the kissweb.permissions rule that governs it."
    )
    gone = sorted(set(MATRIX) - operations)
    assert not gone, f"MATRIX lists endpoints the schema no longer has: {gone}"


def test_every_rule_of_the_matrix_is_in_the_policy():
    for (method, path), case in MATRIX.items():
        if case.rule is not PUBLIC:
            kind, action = case.rule
            assert action in permissions.RULES[kind], f"{method} {path}: no rule for {action} on {kind}"


@pytest.fixture
def world(settings, tmp_path, django_user_model):
    """Alice (not staff) owns a movie with a poster, an analysis, a detected segment and an annotation; Bob is
    another person, Carol is staff. A ready model version with its file and a training run exist."""
    from kissweb.analysis.models import ModelVersion
    from kissweb.library.models import Annotation, Movie, SceneType, Segment
    from kissweb.exports.models import Export
    from tests.runs import analysis_create, training_create

    settings.MEDIA_ROOT = tmp_path / "media"
    for folder in ("movies", "posters", "models", "incoming"):
        (settings.MEDIA_ROOT / folder).mkdir(parents=True)
    settings.FILE_UPLOAD_TEMP_DIR = str(settings.MEDIA_ROOT / "incoming")
    users = {
        "owner": django_user_model.objects.create_user(username="alice", password="alice-pass-123"),
        "other": django_user_model.objects.create_user(username="bob", password="bob-pass-123"),
        "staff": django_user_model.objects.create_user(username="carol", password="carol-pass-123", is_staff=True),
    }
    stem = uuid.uuid4().hex
    (settings.MEDIA_ROOT / f"movies/{stem}.mp4").write_bytes(b"\x00" * 4096)
    (settings.MEDIA_ROOT / f"posters/{stem}.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 64)
    (settings.MEDIA_ROOT / f"models/{stem}.safetensors").write_bytes(b"\x00" * 64)
    kissing = SceneType.objects.get(slug="kissing")
    movie = Movie.objects.create(
        title="Casablanca", original_filename="c.mp4", file=f"movies/{stem}.mp4", poster=f"posters/{stem}.jpg",
        size_bytes=4096, sha256=hashlib.sha256(stem.encode()).hexdigest(), duration_s=100.0, width=320, height=240,
        fps=25, has_audio=True, uploaded_by=users["owner"], status="ready",
    )
    analysis = analysis_create(movie=movie, run_fields={"requested_by": users["owner"]})
    segment = Segment.objects.create(movie=movie, scene_type=kissing, start_s=1, end_s=4, source="detected",
                                     analysis=analysis, confidence=0.9)
    annotation = Annotation.objects.create(movie=movie, scene_type=kissing, start_s=10, end_s=12, label="positive",
                                           author=users["owner"])
    model = ModelVersion.objects.create(scene_type=kissing, name="v1", backbone_set="offline", status="ready",
                                        weights=f"models/{stem}.safetensors")
    run = training_create(scene_type=kissing, status="failed", run_fields={"requested_by": users["staff"]})
    export = Export.objects.create(kind="clip", requested_by=users["owner"], movie=movie,
                                   scenes=[{"segment_id": segment.pk, "movie_id": movie.pk, "start_s": 1.0,
                                            "end_s": 4.0, "confidence": 0.9, "source": "detected"}],
                                   expires_at=timezone.now() + timedelta(days=1))
    ids = {"movie_id": movie.pk, "analysis_id": analysis.pk, "segment_id": segment.pk,
           "annotation_id": annotation.pk, "model_id": model.pk, "run_id": run.pk, "job_id": analysis.run_id,
           "export_id": export.pk, "slug": "kissing"}
    return users, ids


def _client(user):
    from rest_framework.test import APIClient

    client = APIClient()
    if user is not None:
        client.force_authenticate(user=user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"), sorted(MATRIX), ids=[f"{m} {p}" for m, p in sorted(MATRIX)])
def test_permission_matrix(world, role, method, path):
    users, ids = world
    case = MATRIX[(method, path)]
    url = path.format(**ids) + case.query
    body = {key: _junk_file() if value == "junk" else value for key, value in case.body.items()}
    client = _client(users.get(role))
    kwargs = {"format": "multipart" if case.multipart else "json"} if method != "get" else {}
    response = getattr(client, method)(url, body or ({} if method != "get" else None), **kwargs)
    status = response.status_code
    allowed = expected_allowed(case.rule, role)
    assert status < 500, f"{role} {method.upper()} {url}: {status}"
    assert_matches_schema(response, method, url)  # whatever it answered is what the OpenAPI schema says
    if allowed:
        assert status not in (401, 403), f"{role} should be let through {method.upper()} {url}: {status}"
    else:
        # No credentials: 401 with the challenge API clients expect; signed in but not allowed: 403.
        assert status == (401 if role == "anonymous" else 403), (
            f"{role} should be refused {method.upper()} {url} by the policy {case.rule}: got {status}")
        if role == "anonymous":
            assert response["WWW-Authenticate"] == "Token"
        error = response.json()
        assert error["detail"] and error["code"], error
