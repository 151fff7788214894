"""Re-deriving a scene type's detected segments from the stored scores after its settings changed, as a Runner.

No scoring and no decoding: the active model's ScoreTracks are aggregated again with the scene type's settings, one
movie per transaction (holding only that movie's row lock), with progress shown on the scene type page. A settings
change while a re-derivation is queued or running needs no second run: the run reads the settings again before it
ends and goes over the library once more when they moved.
"""

from __future__ import annotations

from django.db import transaction

from kissweb.analysis.segments import detected_segments_replace
from kissweb.library.scene_type_runs import SceneTypeRunner
from kissweb.jobs.runner import Runner, SubjectGone
from kissweb.analysis.models import ModelVersion, ScoreTrack
from kissweb.library.models import Movie, SceneType

MAX_PASSES = 5  # settings moved again during a pass: one more pass, up to this many


def _settings_of(scene_type_id: int) -> tuple | None:
    return SceneType.objects.filter(pk=scene_type_id).values_list("cut", "min_frames", "threshold").first()


def scene_type_rederive(*, scene_type: SceneType, runner: Runner | None = None) -> dict[int, dict]:
    """One pass over the library: every movie's detected segments of scene_type from its stored scores with the
    current settings. Returns the changes per movie id."""
    import detector

    scene_type = SceneType.objects.get(pk=scene_type.pk)
    active = ModelVersion.objects.filter(scene_type=scene_type, is_active=True).first()
    if active is None:
        return {}
    changes: dict[int, dict] = {}
    tracks = ScoreTrack.objects.filter(scene_type=scene_type, model_version=active, analysis__isnull=False)
    total = tracks.count()
    for done, track in enumerate(tracks.select_related("analysis").iterator(chunk_size=200), start=1):
        with transaction.atomic():
            movie = Movie.objects.select_for_update().filter(pk=track.movie_id).first()
            if movie is None:
                continue
            found = detector.aggregate_probabilities(
                ScoreTrack.decode(track.scores),
                cut=scene_type.cut, min_frames=scene_type.min_frames, threshold=scene_type.threshold,
            )
            changes[movie.pk] = detected_segments_replace(
                movie=movie, scene_type=scene_type, analysis=track.analysis, model_version=active, found=found
            )
        if runner is not None:
            runner.report(progress=done / total, stage=f"re-deriving scenes: {done} of {total} movies")
    return changes


class RederiveRunner(SceneTypeRunner):
    kind = "rederive"
    title = "Re-deriving the scenes"
    give_up_hint = "Check the worker's log, then save the settings again."

    def work(self) -> None:
        for _ in range(MAX_PASSES):
            before = _settings_of(self.run.subject_id)
            if before is None:
                raise SubjectGone(f"scene type {self.run.subject_id} was deleted")
            scene_type = SceneType.objects.get(pk=self.run.subject_id)
            scene_type_rederive(scene_type=scene_type, runner=self)
            if _settings_of(self.run.subject_id) == before:
                return
            self.report(progress=0.0, stage="the settings changed meanwhile: once more", force=True)
