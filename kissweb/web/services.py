"""Writes of the browser app."""

from __future__ import annotations

from django.db import transaction

from kissweb import errors
from kissweb.library.models import SceneType
from kissweb.library.selectors import unknown_scene_type
from kissweb.web.models import SkipMode, SkipPreference


@transaction.atomic
def skip_preferences_update(*, user, modes: dict[str, str]) -> None:
    """Set `user`'s skip mode for each scene type slug in `modes`; others stay as they are.

    All or nothing: an unknown scene type or mode changes nothing and says which one is wrong.
    """
    if not isinstance(modes, dict):
        raise errors.Invalid("Send the skip modes as an object, e.g. {\"skip\": {\"kissing\": \"ask\"}}.",
                             fields={"skip": "must be an object"})
    known = {st.slug: st for st in SceneType.objects.filter(slug__in=list(modes))}
    for slug, mode in modes.items():
        if slug not in known:
            raise unknown_scene_type(slug, param=f"skip.{slug}")
        if mode not in SkipMode.values:
            message = f"\"{mode}\" is not a skip mode for \"{slug}\"; use one of: {', '.join(SkipMode.values)}."
            raise errors.Invalid(message, code="unknown_skip_mode", fields={f"skip.{slug}": message})
    for slug, mode in modes.items():
        SkipPreference.objects.update_or_create(user=user, scene_type=known[slug], defaults={"mode": mode})
