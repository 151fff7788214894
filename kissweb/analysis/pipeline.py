"""One run of the analysis pipeline on one movie: what the worker's task calls.

claim -> embed once (or read stored embeddings) -> score every scene type with an active model -> aggregate and
write scores and detected segments in ONE transaction. Every step reports progress and a heartbeat through
queryset updates, so a movie deleted meanwhile is noticed and the run stops, leaving nothing behind.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, connection, transaction
from django.utils import timezone

from kissweb.analysis import conf, storage
from kissweb.analysis.segments import detected_segments_replace
from kissweb.library.models import (
    ACTIVE_ANALYSIS_STATUSES,
    Analysis,
    AnalysisKind,
    AnalysisStatus,
    ModelVersion,
    Movie,
    MovieEmbedding,
    MovieStatus,
    SceneType,
    ScoreTrack,
)

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 1.0  # at most one progress write per second; the detector reports at least every ~2 s
EMBED_SHARE = 0.9  # of the progress bar, when the run embeds


class MovieGone(Exception):
    """The movie (and with it this analysis) was deleted while the run was going on."""


class ClaimLost(Exception):
    """Another attempt took this analysis over (this worker was presumed dead); this run must stop."""


@dataclass
class Claim:
    analysis_id: int
    movie_id: int
    attempt: int
    kind: str
    stage: str
    duration_s: float
    video_path: str


@dataclass
class RunState:
    claim: Claim
    timings_s: dict = field(default_factory=dict)
    written_files: list[str] = field(default_factory=list)
    backbone_set: str = ""
    skipped: dict = field(default_factory=dict)  # scene type slug -> why it was not scored
    considered_versions: set = field(default_factory=set)  # ids of the models that were active at the start
    last_write: float = 0.0


# --- claiming ------------------------------------------------------------------------------------------------


def analysis_claim(*, analysis_id: int) -> Claim | None:
    """Take the analysis for this worker, counting the attempt; None when there is nothing (more) to do."""
    now = timezone.now()
    with transaction.atomic():
        analysis = Analysis.objects.select_for_update().filter(pk=analysis_id).first()
        if analysis is None or analysis.status not in ACTIVE_ANALYSIS_STATUSES:
            return None  # deleted, finished, or a duplicate delivery of a finished run
        if analysis.status == AnalysisStatus.RUNNING and analysis.heartbeat_at is not None:
            if (now - analysis.heartbeat_at).total_seconds() < conf.stale_after_s():
                log.info("analysis %s is running with a live heartbeat; duplicate delivery ignored", analysis_id)
                return None
        movie = Movie.objects.filter(pk=analysis.movie_id).values("duration_s", "file").first()
        if movie is None:
            return None
        attempt = analysis.attempts + 1
        if attempt > conf.MAX_ATTEMPTS:
            last = analysis.error or "the worker stopped without a word (killed, out of memory, or the machine restarted)"
            reason = (
                f"Analysis gave up after {conf.MAX_ATTEMPTS} attempts. Last problem: {last} "
                "Check the worker's log, then press Analyse to try again."
            )
            Analysis.objects.filter(pk=analysis_id).update(
                status=AnalysisStatus.FAILED, error=reason, finished_at=now, stage="failed", eta_s=None
            )
            Movie.objects.filter(pk=analysis.movie_id).update(status=MovieStatus.FAILED, error=reason, eta_s=None)
            return None
        Analysis.objects.filter(pk=analysis_id).update(
            status=AnalysisStatus.RUNNING,
            attempts=attempt,
            started_at=analysis.started_at or now,
            heartbeat_at=now,
            progress=0.0,
            eta_s=None,
            stage=analysis.stage if analysis.stage.startswith("re-embedding") else "starting",
        )
        Movie.objects.filter(pk=analysis.movie_id).update(status=MovieStatus.ANALYZING, progress=0.0, eta_s=None)
    return Claim(
        analysis_id=analysis_id,
        movie_id=analysis.movie_id,
        attempt=attempt,
        kind=analysis.kind,
        stage=analysis.stage,
        duration_s=float(movie["duration_s"]),
        video_path=str(storage.media_path(movie["file"])),
    )


def _mine(claim: Claim):
    return Analysis.objects.filter(pk=claim.analysis_id, attempts=claim.attempt, status=AnalysisStatus.RUNNING)


def _gone_or_lost(claim: Claim) -> Exception:
    if not Movie.objects.filter(pk=claim.movie_id).exists():
        return MovieGone(f"movie {claim.movie_id} was deleted")
    return ClaimLost(f"analysis {claim.analysis_id} attempt {claim.attempt} was taken over")


def progress_report(
    state: RunState, *, progress: float, stage: str | None = None, eta_s: float | None = None, force: bool = False
) -> None:
    """Write progress, ETA and heartbeat (throttled). Raises MovieGone / ClaimLost when the run must stop."""
    now = time.monotonic()
    if not force and now - state.last_write < PROGRESS_EVERY_S:
        return
    state.last_write = now
    progress = min(max(float(progress), 0.0), 1.0)
    eta = None if eta_s is None else max(float(eta_s), 0.0)
    claim = state.claim
    if not Movie.objects.filter(pk=claim.movie_id).update(progress=progress, eta_s=eta):
        raise MovieGone(f"movie {claim.movie_id} was deleted")
    fields = {"progress": progress, "eta_s": eta, "heartbeat_at": timezone.now()}
    if stage is not None:
        fields["stage"] = stage[:120]
    if not _mine(claim).update(**fields):
        raise _gone_or_lost(claim)


class Heartbeat:
    """Beats the analysis's heartbeat from a thread while this process works on it, even in long silent steps
    (loading models, a slow start of the decoder). So a stale heartbeat means the process is gone, which is
    what the sweeper looks for; a process that hangs is ended by the task's timeout instead."""

    def __init__(self, claim: Claim):
        self.claim = claim
        self.interval_s = max(0.5, min(5.0, conf.stale_after_s() / 3))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{claim.analysis_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        from django.db import connection as thread_connection

        try:
            while not self._stop.wait(self.interval_s):
                try:
                    _mine(self.claim).update(heartbeat_at=timezone.now())
                except DatabaseError as exc:  # the main thread meets the same problem and decides
                    log.warning("heartbeat of analysis %s not written: %s", self.claim.analysis_id, exc)
                    thread_connection.close()  # reconnect on the next beat
        finally:
            thread_connection.close()


# --- the run -------------------------------------------------------------------------------------------------


@dataclass
class ActiveModel:
    scene_type: SceneType
    version: ModelVersion
    model: object  # detector.SceneModel


def _active_models(state: RunState) -> list[ActiveModel]:
    import detector

    found = []
    versions = ModelVersion.objects.filter(is_active=True).select_related("scene_type").order_by("scene_type__slug")
    for version in versions:
        state.considered_versions.add(version.pk)
        try:
            model = detector.load_model(version.weights.path)
        except (detector.ModelFileError, ValueError) as exc:
            state.skipped[version.scene_type.slug] = f"the active model '{version.name}' cannot be read: {exc}"
            continue
        found.append(ActiveModel(scene_type=version.scene_type, version=version, model=model))
    return found


def _stored_features(claim: Claim, backbone_set: str) -> np.ndarray | None:
    row = MovieEmbedding.objects.filter(movie_id=claim.movie_id, backbone_set=backbone_set).first()
    if row is None:
        return None
    try:
        return storage.embedding_features(row)
    except (OSError, ValueError) as exc:
        log.warning("stored embeddings of movie %s unusable, re-embedding: %s", claim.movie_id, exc)
        return None


def _embed_batch_size() -> int:
    """The detector reports progress once per batch. On a CPU a batch of 32 frames can take 10 s on a busy machine;
    8 keeps progress moving every few seconds at the same throughput. GPUs want larger batches."""
    import torch

    return 32 if torch.cuda.is_available() else 8


def _embed(state: RunState, *, backbone_set: str, share: tuple[float, float], stage: str) -> np.ndarray:
    """Embed the video once with this backbone set, store the result, return the features (n, D) float32."""
    import detector

    claim = state.claim
    low, high = share
    started = time.monotonic()
    progress_report(state, progress=low, stage=stage, force=True)

    def on_progress(done: int, total: int) -> None:
        fraction = done / total if total else 0.0
        elapsed = time.monotonic() - started
        eta = elapsed / done * (total - done) if done else None
        progress_report(state, progress=low + (high - low) * fraction, stage=stage, eta_s=eta)

    embeddings = detector.embed_video(
        claim.video_path, backbones=backbone_set, progress=on_progress, batch_size=_embed_batch_size()
    )
    features = embeddings.features()
    state.timings_s["embed"] = round(state.timings_s.get("embed", 0.0) + (time.monotonic() - started), 3)
    detail = embeddings.timings_s or {}
    for key, value in detail.items():
        state.timings_s[f"embed.{key}"] = round(float(value), 3)
    # Decoding overlaps inference; "decode" is the time inference waited for frames (the decoder's visible cost).
    decode = detail.get("decode", detail.get("decode_wait"))
    if decode is not None:
        state.timings_s["decode"] = round(state.timings_s.get("decode", 0.0) + float(decode), 3)

    started = time.monotonic()
    name = storage.embeddings_write(features=features, movie_id=claim.movie_id, backbone_set=embeddings.backbone_set)
    state.written_files.append(name)
    replaced: list[str] = []
    with transaction.atomic():
        if not Movie.objects.select_for_update().filter(pk=claim.movie_id).exists():
            raise MovieGone(f"movie {claim.movie_id} was deleted")
        if not _mine(claim).exists():
            raise _gone_or_lost(claim)
        previous = MovieEmbedding.objects.filter(movie_id=claim.movie_id, backbone_set=embeddings.backbone_set)
        replaced = list(previous.values_list("file", flat=True))
        previous.delete()
        MovieEmbedding.objects.create(
            movie_id=claim.movie_id,
            backbone_set=embeddings.backbone_set,
            file=name,
            n_windows=features.shape[0],
            image_dim=embeddings.image.shape[1],
            audio_dim=embeddings.audio.shape[1],
        )
        transaction.on_commit(lambda: [storage.embeddings_delete(name=old) for old in replaced if old != name])
    state.timings_s["store_embeddings"] = round(time.monotonic() - started, 3)
    return features


def _features_by_backbone(state: RunState, models: list[ActiveModel]) -> dict[str, np.ndarray]:
    """Per backbone set: embed (kind=analyze, or embeddings missing) or read the stored embeddings (re-score)."""
    import detector

    claim = state.claim
    needed = sorted({m.version.backbone_set for m in models})
    features: dict[str, np.ndarray] = {}
    if claim.kind == AnalysisKind.ANALYZE:
        primary = detector.resolve_backbone_set("auto")
        to_embed = [primary] + [s for s in needed if s != primary]
    else:
        started = time.monotonic()
        for backbone_set in needed:
            stored = _stored_features(claim, backbone_set)
            if stored is not None:
                features[backbone_set] = stored
        state.timings_s["load_embeddings"] = round(time.monotonic() - started, 3)
        to_embed = [s for s in needed if s not in features]
        primary = needed[0] if needed else ""
    state.backbone_set = to_embed[0] if to_embed else primary
    for index, backbone_set in enumerate(to_embed):
        low = EMBED_SHARE * index / len(to_embed)
        high = EMBED_SHARE * (index + 1) / len(to_embed)
        if claim.kind == AnalysisKind.ANALYZE and index == 0:
            stage = claim.stage if claim.stage.startswith("re-embedding") else "embedding"
        else:
            stage = f"re-embedding: model needs the {backbone_set} backbones"
        try:
            features[backbone_set] = _embed(state, backbone_set=backbone_set, share=(low, high), stage=stage)
        except detector.MissingWeightsError as exc:
            if claim.kind == AnalysisKind.ANALYZE and index == 0:
                raise
            for m in models:
                if m.version.backbone_set == backbone_set:
                    state.skipped[m.scene_type.slug] = str(exc)
    return features


def _score(state: RunState, models: list[ActiveModel], features: dict[str, np.ndarray]) -> list[tuple]:
    import detector

    scored = []
    started = time.monotonic()
    for index, m in enumerate(models):
        x = features.get(m.version.backbone_set)
        if x is None:
            state.skipped.setdefault(m.scene_type.slug, f"no {m.version.backbone_set} embeddings")
            continue
        probabilities = detector.score(x, m.model)
        scored.append((m, np.asarray(probabilities, dtype=np.float32)))
        progress_report(state, progress=EMBED_SHARE + 0.05 * (index + 1) / max(len(models), 1), stage="scoring")
    state.timings_s["score"] = round(time.monotonic() - started, 3)
    return scored


def _write(state: RunState, scored: list[tuple]) -> None:
    """Scores, detected segments and the outcome, in one transaction (a failed run leaves no partial segments)."""
    import detector

    claim = state.claim
    progress_report(state, progress=0.96, stage="writing", eta_s=1.0, force=True)
    started = time.monotonic()
    aggregate_s = 0.0
    with transaction.atomic():
        movie = Movie.objects.select_for_update().filter(pk=claim.movie_id).first()
        if movie is None:
            raise MovieGone(f"movie {claim.movie_id} was deleted")
        analysis = _mine(claim).select_for_update().first()
        if analysis is None:
            raise _gone_or_lost(claim)
        changes: dict = {}
        for m, probabilities in scored:
            scene_type = SceneType.objects.get(pk=m.scene_type.pk)  # settings as they are now, under the lock
            t0 = time.monotonic()
            found = detector.aggregate(
                probabilities, cut=scene_type.cut, min_frames=scene_type.min_frames, threshold=scene_type.threshold
            )
            aggregate_s += time.monotonic() - t0
            ScoreTrack.objects.update_or_create(
                movie=movie,
                model_version=m.version,
                defaults={
                    "scene_type": scene_type,
                    "analysis": analysis,
                    "scores": probabilities.astype("<f4").tobytes(),
                    "n_windows": int(probabilities.shape[0]),
                },
            )
            changes[scene_type.slug] = detected_segments_replace(
                movie=movie, scene_type=scene_type, analysis=analysis, model_version=m.version, found=found
            )
        for slug, why in state.skipped.items():
            changes.setdefault(slug, {})["skipped"] = why
        for slug in SceneType.objects.exclude(model_versions__is_active=True).values_list("slug", flat=True):
            changes.setdefault(slug, {})["skipped"] = "no model yet: train one or activate a model file"
        analysis.model_versions.set([m.version for m, _ in scored])
        state.timings_s["aggregate"] = round(aggregate_s, 4)
        state.timings_s["write"] = round(time.monotonic() - started - aggregate_s, 3)
        now = timezone.now()
        state.timings_s["total"] = round((now - (analysis.started_at or now)).total_seconds(), 3)
        Analysis.objects.filter(pk=analysis.pk).update(
            status=AnalysisStatus.SUCCEEDED,
            progress=1.0,
            eta_s=0.0,
            stage="done",
            heartbeat_at=now,
            finished_at=now,
            timings_s=state.timings_s,
            backbone_set=state.backbone_set,
            changes=changes,
            error="",
        )
        Movie.objects.filter(pk=movie.pk).update(status=MovieStatus.READY, progress=1.0, eta_s=0.0, error="")
        active_now = set(ModelVersion.objects.filter(is_active=True).values_list("pk", flat=True))
        if active_now != state.considered_versions:
            # A model was activated while this run was scoring with the previous one: score again.
            from kissweb.analysis.services import analysis_request

            analysis_request(movie=movie, kind=AnalysisKind.RESCORE)


# --- outcomes ------------------------------------------------------------------------------------------------


def _drop_broken_connection() -> None:
    # Outside a transaction (the worker's normal state) a broken connection is closed so the next query reconnects.
    if not connection.in_atomic_block:
        close_old_connections()


def _with_db_retries(func, *, tries: int = 5, delay_s: float = 2.0):
    for attempt in range(tries):
        try:
            return func()
        except (OperationalError, InterfaceError):
            if attempt == tries - 1:
                raise
            _drop_broken_connection()
            time.sleep(delay_s)
    return None


def analysis_fail(claim: Claim, *, reason: str) -> None:
    def write():
        now = timezone.now()
        with transaction.atomic():
            if _mine(claim).update(
                status=AnalysisStatus.FAILED, error=reason, finished_at=now, heartbeat_at=now, stage="failed",
                eta_s=None,
            ):
                Movie.objects.filter(pk=claim.movie_id).update(status=MovieStatus.FAILED, error=reason, eta_s=None)

    _with_db_retries(write)


def analysis_retry_or_fail(claim: Claim, *, reason: str) -> str:
    if claim.attempt >= conf.MAX_ATTEMPTS:
        analysis_fail(
            claim,
            reason=f"Analysis gave up after {conf.MAX_ATTEMPTS} attempts. Last problem: {reason} "
            "Fix that, then press Analyse to try again.",
        )
        return "failed"

    def write():
        from kissweb.analysis.services import analysis_enqueue

        with transaction.atomic():
            if _mine(claim).update(
                status=AnalysisStatus.QUEUED,
                error=f"Attempt {claim.attempt} of {conf.MAX_ATTEMPTS} failed: {reason} Trying again.",
                stage="waiting to retry",
                heartbeat_at=timezone.now(),
                eta_s=None,
            ):
                Movie.objects.filter(pk=claim.movie_id).update(status=MovieStatus.QUEUED, eta_s=None)
                transaction.on_commit(
                    lambda: analysis_enqueue(analysis_id=claim.analysis_id, duration_s=claim.duration_s)
                )

    _with_db_retries(write)
    return "retrying"


def _cleanup(state: RunState) -> None:
    """Remove files this run wrote that no row refers to (the movie was deleted or another attempt took over)."""
    for name in state.written_files:
        try:
            referenced = MovieEmbedding.objects.filter(file=name).exists()
        except DatabaseError:
            referenced = False
        if not referenced:
            storage.embeddings_delete(name=name)


def _is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def analysis_run(*, analysis_id: int) -> str:
    """Run one attempt of the analysis; returns what happened (succeeded, failed, retrying, gone, skipped)."""
    import detector
    from django_q.exceptions import TimeoutException

    claim = analysis_claim(analysis_id=analysis_id)
    if claim is None:
        return "skipped"
    state = RunState(claim=claim)
    try:
        with Heartbeat(claim):
            progress_report(state, progress=0.0, stage=claim.stage or "starting", force=True)
            models = _active_models(state)
            features = _features_by_backbone(state, models)
            scored = _score(state, models, features)
            _write(state, scored)
        return "succeeded"
    except MovieGone:
        log.info("movie %s was deleted during analysis %s; stopped", claim.movie_id, analysis_id)
        _cleanup(state)
        return "gone"
    except ClaimLost:
        log.info("analysis %s attempt %s was taken over by another attempt; stopped", analysis_id, claim.attempt)
        _cleanup(state)
        return "skipped"
    except detector.DecodeError as exc:
        _cleanup(state)
        analysis_fail(claim, reason=f"The video cannot be decoded: {exc} Upload a complete, playable copy.")
        return "failed"
    except detector.MissingWeightsError as exc:
        _cleanup(state)
        analysis_fail(claim, reason=str(exc))
        return "failed"
    except TimeoutException:
        _cleanup(state)
        analysis_fail(
            claim,
            reason=f"Analysis took longer than its limit of {conf.analysis_timeout_s(duration_s=claim.duration_s)} s "
            f"for a {claim.duration_s / 60:.0f}-minute movie and was stopped. Raise KISSWEB_TASK_TIMEOUT_S (and "
            "KISSWEB_TASK_RETRY_S above it) or give the worker a faster machine.",
        )
        raise
    except OSError as exc:
        _cleanup(state)
        if _is_disk_full(exc):
            analysis_fail(
                claim,
                reason=f"The disk holding the media folder is full ({exc.strerror}: {exc.filename or 'embeddings'}). "
                "Free some space, then press Analyse again; the movie itself is untouched.",
            )
            return "failed"
        return analysis_retry_or_fail(claim, reason=f"A file could not be read or written ({exc}).")
    except (OperationalError, InterfaceError) as exc:
        _drop_broken_connection()
        _cleanup(state)
        return analysis_retry_or_fail(claim, reason=f"The database was unreachable ({str(exc).strip()}).")
    except Exception as exc:
        log.exception("analysis %s attempt %s failed", analysis_id, claim.attempt)
        _cleanup(state)
        return analysis_retry_or_fail(claim, reason=f"Unexpected error {type(exc).__name__}: {exc}.")
