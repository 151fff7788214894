"""The follow-up work of the library's changes that belongs to exports (kissweb.library.signals)."""

from __future__ import annotations

from django.dispatch import receiver

from kissweb.exports.playable import playable_copy_ensure
from kissweb.library import signals
from kissweb.library.models import Movie


@receiver(signals.movie_file_stored, sender=Movie, dispatch_uid="kissweb.exports.playable_copy_of_stored_movie")
def _playable_copy_of_stored_movie(sender, *, movie: Movie, user, **kwargs) -> None:  # noqa: ARG001
    """A film browsers cannot play gets its copy queued as it is stored (an upload, or a download from a URL), so it
    is usually ready by the time its analysis is."""
    playable_copy_ensure(movie=movie, user=user)
