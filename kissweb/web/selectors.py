"""Reads for the pages and the preferences API."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from kissweb.library.models import Movie, SceneType
from kissweb.web.models import SkipMode, SkipPreference


def skip_preferences_get(*, user) -> dict[str, str]:
    """Every scene type's skip mode for `user`; a scene type never chosen is "show"."""
    chosen = dict(
        SkipPreference.objects.filter(user=user).values_list("scene_type__slug", "mode")
    )
    return {slug: chosen.get(slug, SkipMode.SHOW.value) for slug in SceneType.objects.values_list("slug", flat=True)}


def movie_page_get(*, movie_id: int) -> Movie:
    """The movie a player page shows, or 404."""
    return get_object_or_404(Movie.objects.only("id", "title", "year", "duration_s"), pk=movie_id)
