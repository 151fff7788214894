"""The analysis of one movie as a Runner (kissweb.jobs): what the worker does for an `analyze` or `rescore` run.

load the active models -> embed once (or read stored embeddings, for a re-score) -> score every scene type with an
active model -> aggregate and write scores, detected segments and the run's success in ONE transaction. Every step
reports progress through the runner, so a movie deleted meanwhile is noticed and the run stops, leaving nothing behind.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from django.db import DatabaseError, transaction
from django.utils import timezone

from kissweb.analysis import conf, storage
from kissweb.analysis.backbones import BackboneKey, carries_backbones, key_of_version, primary_key
from kissweb.analysis.segments import detected_segments_replace
from kissweb.jobs.models import RunStatus
from kissweb.jobs.runner import AlreadyActive, Failure, Runner, SubjectGone
from kissweb.analysis.models import Analysis, AnalysisKind, ModelVersion, MovieEmbedding, ScoreTrack
from kissweb.library.models import Movie, MovieStatus, SceneType
from kissweb.library.uploads import disk_full_message, is_disk_full

log = logging.getLogger(__name__)

EMBED_SHARE = 0.9  # of the progress bar, when the run embeds


class AnalysisAlreadyActive(AlreadyActive):
    """A queued or running analysis exists for this movie (the API answers 409)."""


class ModelUnreadable(Exception):
    """An active model's file cannot be loaded; scoring with it is impossible, so the run fails visibly."""


@dataclass
class ActiveModel:
    scene_type: SceneType
    version: ModelVersion
    model: object  # detector.SceneModel
    key: BackboneKey


_MOVIE_STATUS = {
    RunStatus.QUEUED: MovieStatus.QUEUED,
    RunStatus.RUNNING: MovieStatus.ANALYZING,
    RunStatus.SUCCEEDED: MovieStatus.READY,
    RunStatus.FAILED: MovieStatus.FAILED,
}


class AnalysisRunner(Runner):
    """Decode and embed the movie, then score and aggregate (kind `analyze`)."""

    kind = AnalysisKind.ANALYZE
    subject_type = "movie"
    title = "Analysis"
    max_attempts = conf.MAX_ATTEMPTS
    give_up_hint = "Check the worker's log, then press Analyse to try again."
    # A failure leaves a movie analysed before `ready` with its scenes of before, the reason shown beside them as a
    # warning (Movie.error), instead of marking it failed.
    failure_keeps_scenes = False

    def __init__(self, run):
        super().__init__(run)
        self.timings_s: dict = {}
        self.written_files: list[str] = []
        self.backbone_set = ""
        self.skipped: dict = {}  # scene type slug -> why it was not scored
        self.considered_versions: set = set()  # ids of the models that were active at the start
        self.movie: dict = {}

    # --- queueing -------------------------------------------------------------------------------------------

    @classmethod
    def analysis_request(
        cls, *, movie: Movie, kind: str = AnalysisKind.ANALYZE, stage: str = "", requested_by=None
    ) -> Analysis:
        """A queued Analysis of the movie (its Run handed to the broker on commit); AnalysisAlreadyActive when one
        is queued or running (the database's one-active-run-per-movie rule decides)."""
        runner = RescoreRunner if kind == AnalysisKind.RESCORE else AnalysisRunner
        try:
            with transaction.atomic():
                run = runner.request(subject_id=movie.pk, stage=stage, requested_by=requested_by)
                return Analysis.objects.create(movie=movie, run=run)
        except AlreadyActive as exc:
            raise AnalysisAlreadyActive(
                f"'{movie.title}' is already being analysed; wait for that run to finish before starting another.",
                run=exc.run,
            ) from exc

    @classmethod
    def lock_key(cls, subject_id: int) -> str:
        return f"movie:{subject_id}"  # analyses and re-scores of one movie exclude each other

    @classmethod
    def timeout_s(cls, *, subject_id: int) -> int:
        duration_s = Movie.objects.filter(pk=subject_id).values_list("duration_s", flat=True).first() or 0.0
        return conf.analysis_timeout_s(duration_s=duration_s)

    @classmethod
    def mirror(cls, *, run_id: int, subject_id: int, status: str, fields: dict) -> None:  # noqa: ARG003
        if status == RunStatus.CANCELLED or (status == RunStatus.FAILED and cls.failure_keeps_scenes):
            done_before = Analysis.objects.filter(movie_id=subject_id, run__status=RunStatus.SUCCEEDED).exists()
            movie_status = MovieStatus.READY if done_before else _MOVIE_STATUS.get(status, MovieStatus.UPLOADED)
        else:
            movie_status = _MOVIE_STATUS[status]
        updates = {"status": movie_status, **{k: v for k, v in fields.items() if k in ("progress", "eta_s", "error")}}
        if not Movie.objects.filter(pk=subject_id).update(**updates):
            raise SubjectGone(f"movie {subject_id} was deleted")

    def subject_exists(self) -> bool:
        return Movie.objects.filter(pk=self.run.subject_id).exists()

    def first_stage(self) -> str:
        return self.run.stage if self.run.stage.startswith("re-embedding") else "starting"

    # --- the work -------------------------------------------------------------------------------------------

    @property
    def analysis(self) -> Analysis:
        return Analysis.objects.get(run_id=self.run.pk)

    def work(self) -> None:
        movie = Movie.objects.filter(pk=self.run.subject_id).values("duration_s", "file").first()
        if movie is None:
            raise SubjectGone(f"movie {self.run.subject_id} was deleted")
        self.movie = {"duration_s": float(movie["duration_s"]), "video_path": str(storage.media_path(movie["file"]))}
        models = self._active_models()
        features = self._features_by_backbone(models)
        scored = self._score(models, features)
        self._write(scored)

    def _active_models(self) -> list[ActiveModel]:
        import detector

        found = []
        versions = ModelVersion.objects.filter(is_active=True).select_related("scene_type").order_by("scene_type__slug")
        for version in versions:
            self.considered_versions.add(version.pk)
            try:
                model = detector.load_model(version.weights.path)
            except (detector.ModelFileError, ValueError, OSError) as exc:
                # Skipping it would leave the previous model's segments standing as if they were this model's.
                raise ModelUnreadable(
                    f"The active model '{version.name}' of '{version.scene_type.slug}' cannot be read "
                    f"({type(exc).__name__}: {_without_paths(str(exc), version.weights.path)}), so the movie was not "
                    "scored with it and its earlier scenes were left as they were. Activate another model of that "
                    "scene type (or upload the file again), then analyse again."
                ) from exc
            found.append(ActiveModel(scene_type=version.scene_type, version=version, model=model,
                                     key=key_of_version(version)))
        return found

    def _stored_features(self, key: BackboneKey) -> tuple[np.ndarray | None, str]:
        """The stored features, or None and why they must be embedded again (the stage shown to people)."""
        row = MovieEmbedding.objects.filter(
            movie_id=self.run.subject_id, backbone_set=key.backbone_set, backbone_digest=key.digest
        ).first()
        if row is None:
            return None, f"re-embedding: model needs the {key.backbone_set} backbones"
        try:
            return storage.embedding_features(row), ""
        except (OSError, ValueError) as exc:
            log.warning("stored embeddings of movie %s unusable, re-embedding: %s", self.run.subject_id, exc)
            return None, f"re-embedding: the stored {key.backbone_set} embeddings could not be read"

    def _embed(
        self, *, key: BackboneKey, source: ModelVersion | None, share: tuple[float, float], stage: str
    ) -> np.ndarray:
        """Embed the video once with these backbones, store the result, return the features (n, D) float32."""
        movie_id = self.run.subject_id
        low, high = share
        started = time.monotonic()
        self.report(progress=low, stage=stage, force=True)

        def on_progress(done: int, total: int) -> None:
            fraction = done / total if total else 0.0
            elapsed = time.monotonic() - started
            eta = elapsed / done * (total - done) if done else None
            self.report(progress=low + (high - low) * fraction, stage=stage, eta_s=eta)

        embeddings = _embed_video(self.movie["video_path"], key=key, source=source, progress=on_progress)
        if (embeddings.backbone_set, embeddings.backbone_digest) != (key.backbone_set, key.digest):
            raise ValueError(
                f"asked for {key} embeddings, the detector made {embeddings.backbone_set} "
                f"({embeddings.backbone_digest[:8]}): its weights are not the ones the model names"
            )
        features = embeddings.features()
        self.timings_s["embed"] = round(self.timings_s.get("embed", 0.0) + (time.monotonic() - started), 3)
        detail = embeddings.timings_s or {}
        for name, value in detail.items():
            self.timings_s[f"embed.{name}"] = round(float(value), 3)
        # Decoding overlaps inference; "decode" is the time inference waited for frames (the decoder's visible cost).
        decode = detail.get("decode", detail.get("decode_wait"))
        if decode is not None:
            self.timings_s["decode"] = round(self.timings_s.get("decode", 0.0) + float(decode), 3)
        # which decoder read the pictures (ffmpeg on the CPU, or NVDEC) and why: {backend, decoders, reason}
        if getattr(embeddings, "decoding", None):
            self.timings_s["decoding"] = dict(embeddings.decoding)

        started = time.monotonic()
        name = storage.embeddings_write(
            features=features, movie_id=movie_id, backbone_set=key.backbone_set,
            exact=carries_backbones(key.backbone_set),
        )
        self.written_files.append(name)
        with transaction.atomic():
            if not Movie.objects.select_for_update().filter(pk=movie_id).exists():
                raise SubjectGone(f"movie {movie_id} was deleted")
            if not self.claimed().exists():
                raise self.stop_reason()
            previous = MovieEmbedding.objects.filter(
                movie_id=movie_id, backbone_set=key.backbone_set, backbone_digest=key.digest
            )
            replaced = list(previous.values_list("file", flat=True))
            previous.delete()
            MovieEmbedding.objects.create(
                movie_id=movie_id,
                backbone_set=key.backbone_set,
                backbone_digest=key.digest,
                file=name,
                n_windows=features.shape[0],
                image_dim=embeddings.image.shape[1],
                audio_dim=embeddings.audio.shape[1],
            )
            # An audio track that cannot be decoded is analysed as silence (as a film without one); people are told.
            Movie.objects.filter(pk=movie_id).update(audio_warning=embeddings.audio_warning or "")
            transaction.on_commit(lambda: [storage.embeddings_delete(name=old) for old in replaced if old != name])
        self.timings_s["store_embeddings"] = round(time.monotonic() - started, 3)
        return features

    def _to_embed(self, needed: list[BackboneKey], why: dict, features: dict) -> tuple[list[BackboneKey], object]:
        """The backbones to embed, and the primary ones. An analysis embeds the install's set first."""
        primary = primary_key()
        return [primary] + [k for k in needed if k != primary], primary

    def _features_by_backbone(self, models: list[ActiveModel]) -> dict[BackboneKey, np.ndarray]:
        """Per backbones: embed, or read the stored embeddings (re-score). A re-score decodes the film only for
        backbones it has no stored embeddings of, once each, so switching models back and forth decodes nothing
        the second time."""
        import detector

        sources: dict[BackboneKey, ModelVersion] = {}
        for m in models:
            sources.setdefault(m.key, m.version)
        needed = sorted(sources, key=lambda k: (k.backbone_set, k.digest))
        features: dict[BackboneKey, np.ndarray] = {}
        why: dict[BackboneKey, str] = {}
        to_embed, primary = self._to_embed(needed, why, features)
        chosen = to_embed[0] if to_embed else primary
        self.backbone_set = chosen.backbone_set if chosen else ""
        for index, key in enumerate(to_embed):
            low = EMBED_SHARE * index / len(to_embed)
            high = EMBED_SHARE * (index + 1) / len(to_embed)
            embeds_first = self.kind == AnalysisKind.ANALYZE and index == 0
            if embeds_first:
                stage = self.run.stage if self.run.stage.startswith("re-embedding") else "embedding"
            else:
                stage = why.get(key) or f"re-embedding: model needs the {key.backbone_set} backbones"
            try:
                features[key] = self._embed(key=key, source=sources.get(key), share=(low, high), stage=stage)
            except detector.MissingWeightsError as exc:
                if embeds_first:
                    raise
                for m in models:
                    if m.key == key:
                        self.skipped[m.scene_type.slug] = str(exc)
        return features

    def _score(self, models: list[ActiveModel], features: dict[BackboneKey, np.ndarray]) -> list[tuple]:
        import detector

        scored = []
        started = time.monotonic()
        for index, m in enumerate(models):
            x = features.get(m.key)
            if x is None:
                self.skipped.setdefault(m.scene_type.slug, f"no {m.key} embeddings")
                continue
            probabilities = detector.score(x, m.model)
            scored.append((m, np.asarray(probabilities, dtype=np.float32)))
            self.report(progress=EMBED_SHARE + 0.05 * (index + 1) / max(len(models), 1), stage="scoring")
        self.timings_s["score"] = round(time.monotonic() - started, 3)
        return scored

    def _write(self, scored: list[tuple]) -> None:
        """Scores, detected segments and the outcome, in one transaction (a failed run leaves no partial segments)."""
        import detector

        movie_id = self.run.subject_id
        self.report(progress=0.96, stage="writing", eta_s=1.0, force=True)
        started = time.monotonic()
        aggregate_s = 0.0
        with transaction.atomic():
            movie = Movie.objects.select_for_update().filter(pk=movie_id).first()
            if movie is None:
                raise SubjectGone(f"movie {movie_id} was deleted")
            if not self.claimed().select_for_update().exists():
                raise self.stop_reason()
            analysis = self.analysis
            changes: dict = {}
            for m, probabilities in scored:
                scene_type = SceneType.objects.get(pk=m.scene_type.pk)  # settings as they are now, under the lock
                t0 = time.monotonic()
                found = detector.aggregate_probabilities(
                    probabilities, cut=scene_type.cut, min_frames=scene_type.min_frames, threshold=scene_type.threshold
                )
                aggregate_s += time.monotonic() - t0
                ScoreTrack.objects.update_or_create(
                    movie=movie,
                    model_version=m.version,
                    defaults={
                        "scene_type": scene_type,
                        "analysis": analysis,
                        "scores": ScoreTrack.encode(probabilities),
                        "n_windows": int(probabilities.shape[0]),
                    },
                )
                changes[scene_type.slug] = detected_segments_replace(
                    movie=movie, scene_type=scene_type, analysis=analysis, model_version=m.version, found=found
                )
            for slug, why in self.skipped.items():
                changes.setdefault(slug, {})["skipped"] = why
            for slug in SceneType.objects.exclude(model_versions__is_active=True).values_list("slug", flat=True):
                changes.setdefault(slug, {})["skipped"] = "no model yet: train one or activate a model file"
            analysis.model_versions.set([m.version for m, _ in scored])
            self.timings_s["aggregate"] = round(aggregate_s, 4)
            self.timings_s["write"] = round(time.monotonic() - started - aggregate_s, 3)
            now = timezone.now()
            self.timings_s["total"] = round((now - (self.run.started_at or now)).total_seconds(), 3)
            Analysis.objects.filter(pk=analysis.pk).update(
                timings_s=self.timings_s, backbone_set=self.backbone_set, changes=changes
            )
            self.succeed()
            active_now = set(ModelVersion.objects.filter(is_active=True).values_list("pk", flat=True))
            if active_now != self.considered_versions:
                # A model was activated while this run was scoring with the previous one: score again.
                AnalysisRunner.analysis_request(movie=movie, kind=AnalysisKind.RESCORE)

    # --- endings --------------------------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Remove files this attempt wrote that no row refers to (the movie was deleted, or the attempt failed)."""
        for name in self.written_files:
            try:
                referenced = MovieEmbedding.objects.filter(file=name).exists()
            except DatabaseError:  # cannot tell: keep it rather than break a row that may point at it
                referenced = True
            if not referenced:
                storage.embeddings_delete(name=name)

    def failure(self, exc: Exception) -> Failure | None:
        import detector

        if isinstance(exc, detector.DecodeError):
            return Failure(f"The video cannot be decoded: {exc} Upload a complete, playable copy.")
        if isinstance(exc, (detector.MissingWeightsError, ModelUnreadable)):
            return Failure(str(exc))
        if is_disk_full(exc):
            # Another attempt would decode the whole film again only to meet the same full disk.
            log.error("analysis %s: the disk is full (%s)", self.run.pk, exc)
            return Failure(
                disk_full_message(
                    lost="the analysis could not store its results",
                    then="press Analyse again; the movie itself is untouched",
                )
            )
        if isinstance(exc, OSError):
            return Failure(f"A file could not be read or written ({exc}).", retry=True)
        return None

    def timeout_reason(self) -> str:
        duration_s = self.movie.get("duration_s", 0.0)
        return (
            f"Analysis took longer than its limit of {conf.analysis_timeout_s(duration_s=duration_s)} s for a "
            f"{duration_s / 60:.0f}-minute movie and was stopped. Raise KISSWEB_TASK_TIMEOUT_S (and "
            "KISSWEB_TASK_RETRY_S above it) or give the worker a faster machine."
        )


class RescoreRunner(AnalysisRunner):
    """Score and aggregate again from the stored embeddings (kind `rescore`); embed only a missing backbone set."""

    kind = AnalysisKind.RESCORE
    title = "Re-scoring"
    failure_keeps_scenes = True  # nothing was replaced: the scenes of the last analysis still stand

    def _to_embed(self, needed: list[BackboneKey], why: dict, features: dict) -> tuple[list[BackboneKey], object]:
        started = time.monotonic()
        for key in needed:
            stored, why[key] = self._stored_features(key)
            if stored is not None:
                features[key] = stored
        self.timings_s["load_embeddings"] = round(time.monotonic() - started, 3)
        return [k for k in needed if k not in features], (needed[0] if needed else None)


def _without_paths(message: str, path: str) -> str:
    return message.replace(str(path), "the model file")


def _embed_video(video_path: str, *, key: BackboneKey, source: ModelVersion | None, progress):
    """One decoding pass with the backbones `key` names: a standard set, or the model file's own backbones."""
    import detector

    if carries_backbones(key.backbone_set):
        if source is None:
            raise detector.MissingWeightsError(f"No model carries the {key} backbones any more.")
        return detector.embed_video(
            video_path, backbones=key.backbone_set, model=source.weights.path, progress=progress,
            batch_size=_embed_batch_size(),
        )
    return detector.embed_video(video_path, backbones=key.backbone_set, progress=progress, batch_size=_embed_batch_size())


def _embed_batch_size() -> int:
    """The detector reports progress once per batch. On a CPU a batch of 32 frames can take 10 s on a busy machine;
    8 keeps progress moving every few seconds at the same throughput. GPUs want larger batches."""
    import torch

    return 32 if torch.cuda.is_available() else 8


def analysis_run(*, analysis_id: int) -> str:
    """Run one attempt of the analysis in this process; returns what happened (succeeded, failed, retrying, gone,
    cancelled, skipped)."""
    row = Analysis.objects.filter(pk=analysis_id).values_list("run_id", "run__kind").first()
    if row is None:
        return "skipped"
    run_id, kind = row
    runner = RescoreRunner if kind == AnalysisKind.RESCORE else AnalysisRunner
    return runner.execute(run_id)
