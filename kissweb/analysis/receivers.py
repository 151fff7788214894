"""The follow-up work the library's changes start here, in the layer above it (kissweb.library.signals)."""

from __future__ import annotations

from django.dispatch import receiver

from kissweb.analysis import services
from kissweb.library import signals
from kissweb.library.models import Movie, SceneType


@receiver(signals.movie_file_stored, sender=Movie, dispatch_uid="kissweb.analysis.analyse_stored_movie")
def _analyse_stored_movie(sender, *, movie: Movie, user, **kwargs) -> None:  # noqa: ARG001
    services.analysis_request(movie=movie, requested_by=user)


@receiver(signals.scene_type_settings_saved, sender=SceneType, dispatch_uid="kissweb.analysis.rederive_scene_type")
def _rederive_scene_type(sender, *, scene_type: SceneType, user, **kwargs) -> None:  # noqa: ARG001
    services.scene_type_settings_changed(scene_type=scene_type, requested_by=user)
