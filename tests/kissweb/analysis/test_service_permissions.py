"""The analysis and training services ask the one policy themselves (not only their views): a person who may not do a
thing is refused by the service, whoever calls it. `user=None` is the app itself (a management command, or a run
doing what a person was allowed to ask for), which the policy does not limit."""

from __future__ import annotations

import pytest

from kissweb import errors
from kissweb.analysis import model_files, services
from kissweb.analysis.models import Analysis, ModelVersion
from kissweb.training import services as training_services

pytestmark = pytest.mark.django_db


def test_model_files_are_staffs(user, staff_user, kissing, model_file, media_root):
    with pytest.raises(errors.NotAllowed, match="Only staff can add model files"):
        services.model_version_create(scene_type=kissing, file=model_file(), user=user)
    assert not ModelVersion.objects.exists()
    with pytest.raises(errors.NotAllowed):
        model_files.reference_import(scene_type=kissing, file=model_file(), user=user)
    with pytest.raises(errors.NotAllowed):
        model_files.published_model_fetch_request(scene_type=kissing, user=user, enqueue=False)

    version = services.model_version_create(scene_type=kissing, file=model_file(), user=staff_user)
    with pytest.raises(errors.NotAllowed, match="Only staff can activate model files"):
        services.model_version_activate(model_version=version, user=user)
    version.refresh_from_db()
    assert not version.is_active
    services.model_version_activate(model_version=version, user=staff_user)
    version.refresh_from_db()
    assert version.is_active


def test_analysing_a_movie_again_is_its_uploaders_or_staffs(user, other_user, staff_user, make_movie):
    movie = make_movie(owner=user)
    with pytest.raises(errors.NotAllowed, match="Only the person who uploaded this movie, or staff"):
        services.analysis_request(movie=movie, requested_by=other_user)
    assert not Analysis.objects.exists()
    assert services.analysis_request(movie=movie, requested_by=user).movie_id == movie.pk


def test_retuning_a_scene_type_is_staffs(user, staff_user, kissing):
    with pytest.raises(errors.NotAllowed):
        services.scene_type_settings_changed(scene_type=kissing, requested_by=user)
    assert services.scene_type_settings_changed(scene_type=kissing, requested_by=staff_user)["run"]


def test_training_and_measuring_are_staffs(user, kissing):
    with pytest.raises(errors.NotAllowed, match="Only staff can train scene types"):
        training_services.training_request(scene_type=kissing, requested_by=user)
    with pytest.raises(errors.NotAllowed, match="Only staff can train scene types"):
        training_services.quality_estimate_request(scene_type=kissing, user=user)


def test_the_app_itself_is_not_limited(kissing, model_file, media_root):
    version = services.model_version_create(scene_type=kissing, file=model_file(), user=None)
    services.model_version_activate(model_version=version)
    version.refresh_from_db()
    assert version.is_active
