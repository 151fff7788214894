"""Writes. Every change to the library's data goes through a function here."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
import tempfile
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.move import file_move_safe
from django.db import IntegrityError, connection, transaction

from kissweb import errors, permissions
from kissweb.library.models import (
    Annotation,
    AnnotationLabel,
    Movie,
    SceneType,
    Segment,
    SegmentSource,
)
from kissweb.library import media_limits, signals
from kissweb.library.uploads import StorageFull, UploadTooLarge, is_disk_full

log = logging.getLogger(__name__)

POSTER_WIDTH = 480
THUMBNAIL_WIDTH = 320
POSTER_AT_FRACTION = 0.10
UNSET = object()

# Container (demuxer) names as probed -> the extensions the stored file may get; the first is the default.
CONTAINER_EXTENSIONS = {
    "mov": (".mp4", ".mov", ".m4v", ".3gp"), "mp4": (".mp4", ".m4v", ".mov"), "m4a": (".mp4",),
    "3gp": (".3gp", ".mp4"), "3g2": (".3gp", ".mp4"), "mj2": (".mp4",),
    "matroska": (".mkv", ".webm"), "webm": (".webm", ".mkv"), "avi": (".avi",), "mpegts": (".ts",),
    "mpeg": (".mpg",), "ogg": (".ogv",), "flv": (".flv",), "asf": (".wmv",),
}
# Words in a DecodeError that mean "this is no video at all" (415) rather than "a broken video" (422).
NOT_A_VIDEO_WORDS = ("not a readable movie", "no video stream", "file is empty", "not a regular file", "not a video")


@transaction.atomic
def admin_ensure(*, username: str | None, password: str | None) -> str | None:
    """Make sure an admin can log in; returns a generated password to show once, else None.

    With username and password given, that superuser exists with that password. Without them and with
    no user at all, `admin` is created with a random password.
    """
    User = get_user_model()
    if username and password:
        user, _ = User.objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return None
    if User.objects.exists():
        return None
    generated = secrets.token_urlsafe(12)
    User.objects.create_superuser(username="admin", email="", password=generated)
    return generated


# --- errors the API turns into status codes -------------------------------------------------------------


class MovieDuplicate(errors.Conflict):
    def __init__(self, *, existing: Movie):
        self.existing = existing
        super().__init__(
            f"This file is already in the library as '{existing.title}' (movie {existing.pk}); "
            "it was not stored a second time.",
            code="duplicate_movie",
            extra={"movie": {"id": existing.pk, "title": existing.title, "page_url": f"/movies/{existing.pk}/"}},
        )


class NotAVideo(errors.UnsupportedMedia):
    default_code = "not_a_video"


class UnusableVideo(errors.Unprocessable):
    default_code = "unusable_video"


def _reject_media(exc: Exception, *, filename: str) -> errors.DomainError:
    """A DecodeError from the detector -> 415 when the file is no video at all, else 422. What ffmpeg printed goes to
    the log, never into the sentence (it holds heap addresses and paths)."""
    reason = str(exc).strip() or "it could not be decoded"
    reason = reason.split(": ", 1)[1] if ": " in reason else reason  # drop the temporary path
    if " (exit " in reason:
        log.warning("'%s' refused: %s", filename, reason)
        reason = reason.split(" (exit ", 1)[0] + "; the video may be damaged"
    if any(words in reason.lower() for words in NOT_A_VIDEO_WORDS):
        return NotAVideo(f"'{filename}' is not a video this server can use: {reason}")
    return UnusableVideo(f"'{filename}' cannot be used: {reason}")


class NoVideoFile(errors.NotFound):
    """A movie added from a URL whose download has not finished (or failed) has no file, hence no duration."""

    default_code = "no_video_file"

    def __init__(self, *, movie: Movie, what: str):
        state = "its download failed" if movie.status == "failed" else "its download has not finished"
        super().__init__(f"'{movie.title}' has no video file yet ({state}), so {what}.")


class SpanOnFilelessMovie(errors.Conflict):
    default_code = "no_video_file"

    def __init__(self, *, movie: Movie, what: str):
        state = "its download failed" if movie.status == "failed" else "its download has not finished"
        super().__init__(f"'{movie.title}' has no video file yet ({state}), so it has no length to mark a {what} in; "
                         "add the film again, then mark it.")


# --- movies ---------------------------------------------------------------------------------------------


def _poster(source: Path, *, info, filename: str) -> bytes:
    """The poster: the frame at 10% of the film, or its first frame when 10% lies past the last picture (a film of
    one frame, or a still over longer sound)."""
    import detector

    try:
        return detector.extract_frame(source, at_s=info.duration_s * POSTER_AT_FRACTION, width=POSTER_WIDTH)
    except detector.DecodeError as exc:
        log.info("no poster of '%s' at 10%%, taking the first frame: %s", filename, exc)
    try:
        return detector.extract_frame(source, at_s=0.0, width=POSTER_WIDTH)
    except detector.DecodeError as exc:
        raise _reject_media(exc, filename=filename) from exc



def container_extension(*, container: str, original_filename: str) -> str:
    """The stored file's extension, from the probed container (the uploaded name only picks within its family)."""
    original_ext = Path(original_filename).suffix.lower()
    for name in (part.strip().lower() for part in (container or "").split(",")):
        if family := CONTAINER_EXTENSIONS.get(name):
            return original_ext if original_ext in family else family[0]
    return ".bin"


def _spooled_copy(uploaded_file) -> tuple[Path, str, bool]:
    """(path on disk, sha256, whether we made the copy). Streamed uploads are already on disk and hashed."""
    temp_path = getattr(uploaded_file, "temporary_file_path", None)
    digest = getattr(uploaded_file, "sha256", None)
    if temp_path is not None:
        path = Path(temp_path())
        if digest is None:
            digest = _sha256_of(path)
        return path, digest, False
    incoming = Path(settings.MEDIA_ROOT) / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    hasher = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=incoming, suffix=".upload", delete=False) as out:
        for chunk in uploaded_file.chunks():
            hasher.update(chunk)
            out.write(chunk)
    return Path(out.name), hasher.hexdigest(), True


def _sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1024 * 1024), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def _existing_with_hash(sha256: str) -> Movie | None:
    return Movie.objects.filter(sha256=sha256).only("id", "title").first()


def movie_create(*, uploaded_file, title: str | None = None, year: int | None = None, user) -> Movie:
    """Accept an uploaded movie: check it, store it under a UUID name with a poster, and queue its analysis.

    Nothing is left on disk or in the database when any step fails.
    """
    permissions.require(user=user, action=permissions.CREATE, subject="movie")
    limit = int(settings.KISSWEB_MAX_UPLOAD_BYTES)
    if uploaded_file.size is not None and uploaded_file.size > limit:
        raise UploadTooLarge(limit_bytes=limit)
    original_filename = Path(uploaded_file.name or "upload").name[:500]
    source, sha256, source_is_ours = _spooled_copy(uploaded_file)
    return movie_store_file(source=source, sha256=sha256, source_is_ours=source_is_ours,
                            original_filename=original_filename, title=title, year=year, user=user)


def movie_store_file(
    *, source: Path, sha256: str, source_is_ours: bool, original_filename: str, title: str | None, year: int | None,
    user, into: Movie | None = None,
) -> Movie:
    """Check a movie file on disk, store it under a UUID name with a poster, and have it analysed: a new Movie,
    or `into` (a movie added from a URL whose download this is). Nothing is kept when any step fails. The analysis is
    queued by kissweb.analysis on `movie_file_stored`, in this transaction."""
    import detector

    written: list[Path] = []
    try:
        if existing := _existing_with_hash(sha256):
            raise MovieDuplicate(existing=existing)
        try:
            info = detector.probe(source)
        except detector.DecodeError as exc:
            raise _reject_media(exc, filename=original_filename) from exc
        media_limits.check_picture_size(width=info.width, height=info.height, filename=original_filename)
        media_limits.check_duration_plausible(path=source, duration_s=info.duration_s,
                                              size_bytes=source.stat().st_size, filename=original_filename)
        poster_jpeg = _poster(source, info=info, filename=original_filename)

        media_root = Path(settings.MEDIA_ROOT)
        stem = uuid.uuid4().hex
        file_name = f"movies/{stem}{container_extension(container=info.container, original_filename=original_filename)}"
        poster_name = f"posters/{stem}.jpg"
        (media_root / "movies").mkdir(parents=True, exist_ok=True)
        (media_root / "posters").mkdir(parents=True, exist_ok=True)
        written.append(media_root / file_name)
        file_move_safe(str(source), str(media_root / file_name), allow_overwrite=False)
        written.append(media_root / poster_name)
        (media_root / poster_name).write_bytes(poster_jpeg)

        facts = dict(
            original_filename=original_filename,
            file=file_name,
            poster=poster_name,
            size_bytes=(media_root / file_name).stat().st_size,
            sha256=sha256,
            duration_s=info.duration_s,
            width=info.width,
            height=info.height,
            fps=info.fps,
            has_audio=info.has_audio,
            container=(info.container or "")[:100],
            video_codec=(info.video_codec or "")[:100],
        )
        try:
            with transaction.atomic():
                if into is None:
                    movie = Movie.objects.create(
                        title=(title or "").strip() or Path(original_filename).stem[:300] or "Untitled",
                        year=year, uploaded_by=user, **facts,
                    )
                else:
                    movie = Movie.objects.select_for_update().filter(pk=into.pk).first()
                    if movie is None:
                        raise errors.NotFound(f"Movie {into.pk} was deleted while its file was fetched.")
                    if title:
                        facts["title"] = title.strip()[:300]
                    Movie.objects.filter(pk=movie.pk).update(**facts)
                    movie.refresh_from_db()
                signals.movie_file_stored.send(sender=Movie, movie=movie, user=user)
        except IntegrityError:
            # Two uploads of the same file at once: the database's unique sha256 decides.
            if existing := _existing_with_hash(sha256):
                raise MovieDuplicate(existing=existing) from None
            raise
    except BaseException as exc:
        for path in written:
            path.unlink(missing_ok=True)
        if source_is_ours:
            source.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise StorageFull() from exc
        raise
    movie.refresh_from_db()
    return movie


@transaction.atomic
def movie_update(*, movie: Movie, title=UNSET, year=UNSET) -> Movie:
    fields = []
    if title is not UNSET:
        title = (title or "").strip()
        if not title:
            raise errors.Invalid("A title cannot be empty.", fields={"title": "A title cannot be empty."})
        movie.title = title
        fields.append("title")
    if year is not UNSET:
        movie.year = year
        fields.append("year")
    if fields:
        movie.save(update_fields=fields)
    return movie


def movie_files(*, movie: Movie) -> list[Path]:
    """Every file on disk that belongs to the movie: video, poster, thumbnails, stored embeddings."""
    media_root = Path(settings.MEDIA_ROOT)
    paths = [media_root / name for name in (movie.file.name, movie.poster.name) if name]
    paths += [media_root / name for name in movie.embeddings.values_list("file", flat=True) if name]
    paths.append(thumbnail_dir(movie_id=movie.pk))
    return paths


def _remove_paths(paths: list[Path]) -> None:
    for path in paths:
        try:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        except OSError as exc:  # a leftover file must not turn a finished delete into an error
            log.warning("could not remove %s: %s", path, exc)


@transaction.atomic
def movie_delete(*, movie: Movie) -> None:
    """Delete the movie's rows (cascade) and, once that is committed, its files.

    The row lock makes a concurrent analysis write (which locks the movie too) wait, then find the movie gone,
    instead of adding segments between the cascade's collection and the delete.
    """
    from kissweb.jobs.models import Run

    with transaction.atomic():
        Movie.objects.select_for_update().filter(pk=movie.pk).first()
        paths = movie_files(movie=movie)
        # The movie's runs (their analyses cascade): a worker on one notices at its next report and stops.
        Run.objects.filter(subject_type="movie", subject_id=movie.pk).delete()
        movie.delete()
    transaction.on_commit(lambda: _remove_paths(paths))


# --- thumbnails -----------------------------------------------------------------------------------------


def thumbnail_dir(*, movie_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "thumbs" / str(movie_id)


def thumbnail_ensure(*, movie: Movie, at_s: float) -> Path:
    """The JPEG still of the movie at `at_s` seconds, made once and then served from disk."""
    import detector

    if not movie.file or movie.duration_s is None:
        raise NoVideoFile(movie=movie, what="no still can be made")
    if not 0 <= at_s <= movie.duration_s:
        message = f"{at_s:g} s is outside the movie; choose a time between 0 and {movie.duration_s:g} s."
        raise errors.Invalid(message, fields={"t": message})
    at_s = min(at_s, max(movie.duration_s - 0.1, 0.0))  # the very last instant has no frame
    path = thumbnail_dir(movie_id=movie.pk) / f"{int(at_s * 10)}.jpg"
    if path.exists():
        return path
    if not Path(movie.file.path).is_file():
        raise errors.NotFound("The video file of this movie is missing from the server's media folder.")
    try:
        jpeg = detector.extract_frame(Path(movie.file.path), at_s=int(at_s * 10) / 10, width=THUMBNAIL_WIDTH)
    except detector.DecodeError as exc:
        log.warning("no still of movie %s at %s s: %s", movie.pk, at_s, exc)
        reason = errors.without_paths(str(exc), movie_title=movie.title)
        raise UnusableVideo(f"No still of '{movie.title}' could be made at {at_s:g} s: {reason}") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
    partial.write_bytes(jpeg)
    os.replace(partial, path)  # concurrent requests for one still: each rename is whole
    return path


# --- segments -------------------------------------------------------------------------------------------


def _constraint_name(exc: IntegrityError) -> str:
    diag = getattr(exc.__cause__, "diag", None)
    return (getattr(diag, "constraint_name", None) or str(exc)).lower()


def _invalid(field: str | None, message: str) -> errors.Invalid:
    return errors.Invalid(message, fields={field: message} if field else None)


def _span_error(exc: IntegrityError, *, movie: Movie, start_s: float, end_s: float, what: str) -> errors.Invalid:
    """Turn a database rule on a span into a sentence; the rule itself lives in Postgres."""
    name = _constraint_name(exc)
    if "start_before_end" in name:
        return _invalid("end_s", f"The {what} must end after it starts ({start_s:g} s to {end_s:g} s).")
    if "within_movie" in name or "past the end" in name:
        return _invalid("end_s", f"The {what} ends at {end_s:g} s, past the end of the movie ({movie.duration_s:g} s).")
    if "start_nonnegative" in name:
        return _invalid("start_s", f"The {what} cannot start before 0 s.")
    if "no_overlap" in name:
        return _invalid(
            "start_s", f"The {what} {start_s:g}-{end_s:g} s overlaps another {what} of the same scene type; "
            "move or delete that one first (touching is fine)."
        )
    if "confidence" in name:
        return _invalid("confidence", "Confidence must be between 0 and 1.")
    log.warning("unexpected integrity error on a %s: %s", what, exc)
    return _invalid(None, f"The database refused this {what} (rule {name}).")


def _span_save(span: Segment | Annotation, *, what: str) -> None:
    """Save a segment or annotation; a database rule it breaks comes back as an errors.Invalid sentence."""
    try:
        with transaction.atomic():
            span.save()
    except IntegrityError as exc:
        raise _span_error(exc, movie=span.movie, start_s=span.start_s, end_s=span.end_s, what=what) from exc


def segment_create(*, movie: Movie, scene_type: SceneType, start_s: float, end_s: float, user) -> Segment:
    """A manual segment. Analyses never touch manual segments."""
    permissions.require(user=user, action=permissions.CHANGE, subject=movie)
    if not movie.file:
        raise SpanOnFilelessMovie(movie=movie, what="segment")
    segment = Segment(
        movie=movie, scene_type=scene_type, start_s=start_s, end_s=end_s, confidence=1.0,
        source=SegmentSource.MANUAL, created_by=user,
    )
    _span_save(segment, what="segment")
    return segment


def segment_update(*, segment: Segment, user, start_s: float | None = None, end_s: float | None = None) -> Segment:
    """Move a segment's edges. An edited detected segment becomes manual, so re-analysis keeps the edit."""
    permissions.require(user=user, action=permissions.CHANGE, subject=segment)
    segment.start_s = segment.start_s if start_s is None else start_s
    segment.end_s = segment.end_s if end_s is None else end_s
    if segment.source == SegmentSource.DETECTED:
        segment.source = SegmentSource.MANUAL
        segment.analysis = None
        segment.confidence = 1.0
        segment.created_by = user
    _span_save(segment, what="segment")
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment, user) -> None:
    permissions.require(user=user, action=permissions.DELETE, subject=segment)
    segment.delete()


# --- scene types ----------------------------------------------------------------------------------------

SCENE_TYPE_SETTINGS = ("cut", "min_frames", "threshold")


def _scene_type_error(exc: IntegrityError, *, slug: str) -> errors.DomainError:
    name = _constraint_name(exc)
    if "slug" in name or "unique" in name:
        return errors.Conflict(f"A scene type with the slug '{slug}' already exists.", fields={"slug": "already exists"})
    if "cut" in name:
        return _invalid("cut", "cut must be between 0 and 1 (exclusive).")
    if "min_frames" in name:
        return _invalid("min_frames", "min_frames must be at least 1 second.")
    if "threshold" in name:
        return _invalid("threshold", "threshold must be above 0 and at most 1.")
    log.warning("unexpected integrity error on a scene type: %s", exc)
    return _invalid(None, f"The database refused this scene type (rule {name}).")


def scene_type_create(*, slug: str, name: str, description: str = "", user) -> SceneType:
    permissions.require(user=user, action=permissions.CREATE, subject="scene_type")
    try:
        with transaction.atomic():
            return SceneType.objects.create(slug=slug, name=name, description=description)
    except IntegrityError as exc:
        raise _scene_type_error(exc, slug=slug) from exc


def scene_type_update(*, scene_type: SceneType, user, **changes) -> SceneType:
    """Rename or retune a scene type. New aggregation settings queue a re-derivation of the segments from the stored
    scores (a run whose progress the scene type page shows)."""
    permissions.require(user=user, action=permissions.CHANGE, subject=scene_type)
    allowed = {"name", "description", *SCENE_TYPE_SETTINGS}
    unknown = set(changes) - allowed
    if unknown:
        raise errors.Invalid(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    settings_changed = any(
        key in SCENE_TYPE_SETTINGS and getattr(scene_type, key) != value for key, value in changes.items()
    )
    for key, value in changes.items():
        setattr(scene_type, key, value)
    try:
        with transaction.atomic():
            scene_type.save()
            if settings_changed:
                signals.scene_type_settings_saved.send(sender=SceneType, scene_type=scene_type, user=user)
    except IntegrityError as exc:
        scene_type.refresh_from_db()
        raise _scene_type_error(exc, slug=scene_type.slug) from exc
    return scene_type


# --- annotations ----------------------------------------------------------------------------------------


def annotation_create(
    *, movie: Movie, scene_type: SceneType, start_s: float, end_s: float, label: str, user
) -> Annotation:
    permissions.require(user=user, action=permissions.CREATE, subject="annotation")
    if not movie.file:
        raise SpanOnFilelessMovie(movie=movie, what="label")
    annotation = Annotation(movie=movie, scene_type=scene_type, start_s=start_s, end_s=end_s, label=label, author=user)
    with transaction.atomic():
        _annotation_room_ensure(movie=movie)
        _span_save(annotation, what="annotation")
    return annotation


ANNOTATION_COUNT_LOCK = 0x4B57_0A77  # the advisory lock space of "labels of one movie" (movie id is the second key)


class TooManyAnnotations(errors.Conflict):
    default_code = "too_many_annotations"


def _annotation_room_ensure(*, movie: Movie) -> None:
    """Refuse a new labelled span once the movie holds KISSWEB_MAX_ANNOTATIONS_PER_MOVIE (all people, all scene
    types). A transaction-scoped advisory lock per movie makes concurrent labels of one movie count one after another
    without taking row locks that an analysis writing the movie's segments takes in another order."""
    limit = int(settings.KISSWEB_MAX_ANNOTATIONS_PER_MOVIE)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ANNOTATION_COUNT_LOCK, movie.pk % 2**31])
    if Annotation.objects.filter(movie_id=movie.pk).count() >= limit:
        raise TooManyAnnotations(
            f"'{movie.title}' already holds {limit:,} labelled spans, the most one movie may hold "
            "(KISSWEB_MAX_ANNOTATIONS_PER_MOVIE). Delete some, or label longer spans instead of many short ones."
        )


def annotation_update(*, annotation: Annotation, user, **changes) -> Annotation:
    permissions.require(user=user, action=permissions.CHANGE, subject=annotation)
    for key in ("start_s", "end_s", "label", "scene_type"):
        if key in changes:
            setattr(annotation, key, changes[key])
    _span_save(annotation, what="annotation")
    return annotation


@transaction.atomic
def annotation_delete(*, annotation: Annotation, user) -> None:
    permissions.require(user=user, action=permissions.DELETE, subject=annotation)
    annotation.delete()


REVIEW_LABELS = {"confirm": AnnotationLabel.POSITIVE, "reject": AnnotationLabel.NEGATIVE}


@transaction.atomic
def segment_review(*, segment: Segment, verdict: str, user) -> Annotation:
    """A person confirms or rejects a detected segment: an annotation over its span (one per person)."""
    if verdict not in REVIEW_LABELS:
        raise _invalid("verdict", "The verdict must be 'confirm' or 'reject'.")
    # Lock the segment so two reviews by one person at once cannot both be kept.
    segment = Segment.objects.select_for_update().select_related("movie").get(pk=segment.pk)
    if segment.source != SegmentSource.DETECTED:
        raise errors.Invalid(
            "Only detected segments can be confirmed or rejected; a manual one is already a person's call."
        )
    Annotation.objects.filter(segment=segment, author=user).delete()
    _annotation_room_ensure(movie=segment.movie)
    return Annotation.objects.create(
        movie=segment.movie, scene_type_id=segment.scene_type_id, start_s=segment.start_s, end_s=segment.end_s,
        label=REVIEW_LABELS[verdict], segment=segment, model_version_id=segment.model_version_id, author=user,
    )
