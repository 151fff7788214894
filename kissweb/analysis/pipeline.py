"""One run of the analysis pipeline on one movie: what the worker's task calls.

claim -> embed once (or read stored embeddings) -> score every scene type with an active model -> aggregate and
write scores and detected segments in ONE transaction. Every step reports progress and a heartbeat (claims.py), so a
movie deleted meanwhile is noticed and the run stops, leaving nothing behind.
"""

from __future__ import annotations

import errno
import logging
import time
from dataclasses import dataclass

import numpy as np
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from kissweb.analysis import conf, storage
from kissweb.analysis.backbones import BackboneKey, key_of_version, primary_key
from kissweb.analysis.claims import (
    Claim,
    ClaimLost,
    Heartbeat,
    MovieGone,
    RunState,
    analysis_claim,
    analysis_fail,
    analysis_retry_or_fail,
    claimed_analysis,
    drop_broken_connection,
    progress_report,
    stop_reason,
)
from kissweb.analysis.segments import detected_segments_replace
from kissweb.library.models import (
    Analysis,
    AnalysisKind,
    AnalysisStatus,
    BackboneSet,
    ModelVersion,
    Movie,
    MovieEmbedding,
    MovieStatus,
    SceneType,
    ScoreTrack,
)

log = logging.getLogger(__name__)

EMBED_SHARE = 0.9  # of the progress bar, when the run embeds


# --- the run -------------------------------------------------------------------------------------------------


@dataclass
class ActiveModel:
    scene_type: SceneType
    version: ModelVersion
    model: object  # detector.SceneModel
    key: BackboneKey


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
        found.append(ActiveModel(scene_type=version.scene_type, version=version, model=model,
                                 key=key_of_version(version)))
    return found


def _stored_features(claim: Claim, key: BackboneKey) -> tuple[np.ndarray | None, str]:
    """The stored features, or None and why they must be embedded again (the stage shown to people)."""
    row = MovieEmbedding.objects.filter(
        movie_id=claim.movie_id, backbone_set=key.backbone_set, backbone_digest=key.digest
    ).first()
    if row is None:
        return None, f"re-embedding: model needs the {key.backbone_set} backbones"
    try:
        return storage.embedding_features(row), ""
    except (OSError, ValueError) as exc:
        log.warning("stored embeddings of movie %s unusable, re-embedding: %s", claim.movie_id, exc)
        return None, f"re-embedding: the stored {key.backbone_set} embeddings could not be read"


def _embed_batch_size() -> int:
    """The detector reports progress once per batch. On a CPU a batch of 32 frames can take 10 s on a busy machine;
    8 keeps progress moving every few seconds at the same throughput. GPUs want larger batches."""
    import torch

    return 32 if torch.cuda.is_available() else 8


def _embed_video(video_path: str, *, key: BackboneKey, source: ModelVersion | None, progress):
    """One decoding pass with the backbones `key` names: a standard set, or the model file's own backbones."""
    import detector

    if key.backbone_set == BackboneSet.PUBLISHED:
        if source is None:
            raise detector.MissingWeightsError(f"No model carries the {key} backbones any more.")
        return detector.embed_video(
            video_path, backbones=key.backbone_set, model=source.weights.path, progress=progress,
            batch_size=_embed_batch_size(),
        )
    return detector.embed_video(video_path, backbones=key.backbone_set, progress=progress, batch_size=_embed_batch_size())


def _embed(
    state: RunState, *, key: BackboneKey, source: ModelVersion | None, share: tuple[float, float], stage: str
) -> np.ndarray:
    """Embed the video once with these backbones, store the result, return the features (n, D) float32."""
    claim = state.claim
    low, high = share
    started = time.monotonic()
    progress_report(state, progress=low, stage=stage, force=True)

    def on_progress(done: int, total: int) -> None:
        fraction = done / total if total else 0.0
        elapsed = time.monotonic() - started
        eta = elapsed / done * (total - done) if done else None
        progress_report(state, progress=low + (high - low) * fraction, stage=stage, eta_s=eta)

    embeddings = _embed_video(claim.video_path, key=key, source=source, progress=on_progress)
    if embeddings.backbone_set != key.backbone_set:
        raise ValueError(f"asked for {key.backbone_set} embeddings, the detector made {embeddings.backbone_set}")
    features = embeddings.features()
    state.timings_s["embed"] = round(state.timings_s.get("embed", 0.0) + (time.monotonic() - started), 3)
    detail = embeddings.timings_s or {}
    for name, value in detail.items():
        state.timings_s[f"embed.{name}"] = round(float(value), 3)
    # Decoding overlaps inference; "decode" is the time inference waited for frames (the decoder's visible cost).
    decode = detail.get("decode", detail.get("decode_wait"))
    if decode is not None:
        state.timings_s["decode"] = round(state.timings_s.get("decode", 0.0) + float(decode), 3)

    started = time.monotonic()
    name = storage.embeddings_write(
        features=features, movie_id=claim.movie_id, backbone_set=key.backbone_set,
        exact=key.backbone_set == BackboneSet.PUBLISHED,
    )
    state.written_files.append(name)
    replaced: list[str] = []
    with transaction.atomic():
        if not Movie.objects.select_for_update().filter(pk=claim.movie_id).exists():
            raise MovieGone(f"movie {claim.movie_id} was deleted")
        if not claimed_analysis(claim).exists():
            raise stop_reason(claim)
        previous = MovieEmbedding.objects.filter(
            movie_id=claim.movie_id, backbone_set=key.backbone_set, backbone_digest=key.digest
        )
        replaced = list(previous.values_list("file", flat=True))
        previous.delete()
        MovieEmbedding.objects.create(
            movie_id=claim.movie_id,
            backbone_set=key.backbone_set,
            backbone_digest=key.digest,
            file=name,
            n_windows=features.shape[0],
            image_dim=embeddings.image.shape[1],
            audio_dim=embeddings.audio.shape[1],
        )
        transaction.on_commit(lambda: [storage.embeddings_delete(name=old) for old in replaced if old != name])
    state.timings_s["store_embeddings"] = round(time.monotonic() - started, 3)
    return features


def _features_by_key(state: RunState, models: list[ActiveModel]) -> dict[BackboneKey, np.ndarray]:
    """Per backbones: embed (kind=analyze, or embeddings missing) or read the stored embeddings (re-score).

    A re-score decodes the film only for backbones it has no stored embeddings of, once each, so activating models
    back and forth decodes nothing the second time.
    """
    import detector

    claim = state.claim
    sources: dict[BackboneKey, ModelVersion] = {}
    for m in models:
        sources.setdefault(m.key, m.version)
    needed = sorted(sources, key=lambda k: (k.backbone_set, k.digest))
    features: dict[BackboneKey, np.ndarray] = {}
    why: dict[BackboneKey, str] = {}
    if claim.kind == AnalysisKind.ANALYZE:
        primary = primary_key()
        to_embed = [primary] + [k for k in needed if k != primary]
    else:
        started = time.monotonic()
        for key in needed:
            stored, why[key] = _stored_features(claim, key)
            if stored is not None:
                features[key] = stored
        state.timings_s["load_embeddings"] = round(time.monotonic() - started, 3)
        to_embed = [k for k in needed if k not in features]
        primary = needed[0] if needed else None
    chosen = to_embed[0] if to_embed else primary
    state.backbone_set = chosen.backbone_set if chosen else ""
    for index, key in enumerate(to_embed):
        low = EMBED_SHARE * index / len(to_embed)
        high = EMBED_SHARE * (index + 1) / len(to_embed)
        if claim.kind == AnalysisKind.ANALYZE and index == 0:
            stage = claim.stage if claim.stage.startswith("re-embedding") else "embedding"
        else:
            stage = why.get(key) or f"re-embedding: model needs the {key.backbone_set} backbones"
        try:
            features[key] = _embed(state, key=key, source=sources.get(key), share=(low, high), stage=stage)
        except detector.MissingWeightsError as exc:
            if claim.kind == AnalysisKind.ANALYZE and index == 0:
                raise
            for m in models:
                if m.key == key:
                    state.skipped[m.scene_type.slug] = str(exc)
    return features


def _score(state: RunState, models: list[ActiveModel], features: dict[BackboneKey, np.ndarray]) -> list[tuple]:
    import detector

    scored = []
    started = time.monotonic()
    for index, m in enumerate(models):
        x = features.get(m.key)
        if x is None:
            state.skipped.setdefault(m.scene_type.slug, f"no {m.key} embeddings")
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
        analysis = claimed_analysis(claim).select_for_update().first()
        if analysis is None:
            raise stop_reason(claim)
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


def _cleanup(state: RunState) -> None:
    """Remove files this run wrote that no row refers to (the movie was deleted or another attempt took over)."""
    for name in state.written_files:
        try:
            referenced = MovieEmbedding.objects.filter(file=name).exists()
        except DatabaseError:  # cannot tell: keep it rather than break a row that may point at it
            referenced = True
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
            features = _features_by_key(state, models)
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
        drop_broken_connection()
        _cleanup(state)
        return analysis_retry_or_fail(claim, reason=f"The database was unreachable ({str(exc).strip()}).")
    except Exception as exc:
        log.exception("analysis %s attempt %s failed", analysis_id, claim.attempt)
        _cleanup(state)
        return analysis_retry_or_fail(claim, reason=f"Unexpected error {type(exc).__name__}: {exc}.")
