"""The library's data. Rules that must always hold are Postgres constraints (see also migration 0002).

A detected segment names the analysis and the model that found it, and an annotation the model whose segment it
reviews: those tables belong to kissweb.analysis (the layer above), so they are named here by string and this
module imports nothing of it (docs/architecture.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import CheckConstraint, F, Q, UniqueConstraint

from detector.aggregate import DEFAULT_CUT, DEFAULT_MIN_FRAMES, DEFAULT_THRESHOLD


class MovieStatus(models.TextChoices):
    DOWNLOADING = "downloading"  # added from a URL; its file is being fetched
    UPLOADED = "uploaded"
    QUEUED = "queued"
    ANALYZING = "analyzing"
    READY = "ready"
    FAILED = "failed"


class Movie(models.Model):
    title = models.CharField(max_length=300)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    original_filename = models.CharField(max_length=500, help_text="Metadata only; never used as a path.")
    # A movie added from a URL has no file (nor the facts read from it) until its download is done.
    file = models.FileField(upload_to="movies/", max_length=300, blank=True)
    poster = models.ImageField(upload_to="posters/", max_length=300, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, unique=True, null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    has_audio = models.BooleanField(null=True, blank=True)
    source_url = models.URLField(max_length=2000, blank=True, help_text="Where it was added from, if from a URL.")
    container = models.CharField(max_length=100, blank=True)
    video_codec = models.CharField(max_length=100, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="movies")
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=MovieStatus.choices, default=MovieStatus.UPLOADED)
    progress = models.FloatField(default=0.0)
    eta_s = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    audio_warning = models.TextField(
        blank=True, help_text="Why the last analysis used silence for (part of) the sound: its audio track could not "
        "be decoded. Empty when the sound was used."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["title"]),
            models.Index(fields=["status"]),
            # The library lists newest first and stops after a page: walk this index instead of sorting everything.
            models.Index(fields=["-created_at", "-id"], name="movie_newest_first"),
        ]
        constraints = [
            CheckConstraint(condition=Q(status__in=MovieStatus.values), name="movie_status_valid"),
            CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1), name="movie_progress_0_1"),
            CheckConstraint(condition=Q(duration_s__gt=0), name="movie_duration_positive"),
            CheckConstraint(condition=Q(size_bytes__gt=0), name="movie_size_positive"),
            CheckConstraint(condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="movie_sha256_hex"),
            # A stored file comes with what was read from it; only a download in progress or one that failed has none.
            CheckConstraint(
                condition=(Q(file="") & Q(status__in=[MovieStatus.DOWNLOADING, MovieStatus.FAILED]))
                | (~Q(file="") & Q(sha256__isnull=False, size_bytes__isnull=False, duration_s__isnull=False,
                                   width__isnull=False, height__isnull=False, has_audio__isnull=False)),
                name="movie_file_or_downloading",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class SceneType(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    # Aggregation settings (defaults: detector.aggregate's "default" preset): labels are p >= cut; segments need
    # min_frames seconds and a share of at least `threshold` positive seconds.
    cut = models.FloatField(default=DEFAULT_CUT)
    min_frames = models.PositiveIntegerField(default=DEFAULT_MIN_FRAMES)
    threshold = models.FloatField(default=DEFAULT_THRESHOLD)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            CheckConstraint(condition=Q(cut__gt=0) & Q(cut__lt=1), name="scenetype_cut_0_1"),
            CheckConstraint(condition=Q(min_frames__gte=1), name="scenetype_min_frames_positive"),
            CheckConstraint(condition=Q(threshold__gt=0) & Q(threshold__lte=1), name="scenetype_threshold_0_1"),
        ]

    def __str__(self) -> str:
        return self.slug


class SegmentSource(models.TextChoices):
    DETECTED = "detected"
    MANUAL = "manual"


class Segment(models.Model):
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="segments")
    scene_type = models.ForeignKey(SceneType, on_delete=models.CASCADE, related_name="segments")
    start_s = models.FloatField()
    end_s = models.FloatField()
    confidence = models.FloatField(default=1.0)
    source = models.CharField(max_length=16, choices=SegmentSource.choices)
    analysis = models.ForeignKey(
        "analysis.Analysis", on_delete=models.CASCADE, null=True, blank=True, related_name="segments"
    )
    model_version = models.ForeignKey(
        "analysis.ModelVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="segments"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["movie_id", "start_s"]
        indexes = [
            models.Index(fields=["scene_type", "movie", "start_s"]),
            # The scene search's "most confident" and "longest" orderings walk these and stop after one page.
            models.Index(F("scene_type"), F("confidence").desc(), F("id"), name="segment_most_confident"),
            models.Index(F("scene_type"), (F("end_s") - F("start_s")).desc(), F("id"), name="segment_longest"),
        ]
        constraints = [
            CheckConstraint(condition=Q(start_s__gte=0), name="segment_start_nonnegative"),
            CheckConstraint(condition=Q(start_s__lt=F("end_s")), name="segment_start_before_end"),
            CheckConstraint(condition=Q(confidence__gte=0) & Q(confidence__lte=1), name="segment_confidence_0_1"),
            CheckConstraint(condition=Q(source__in=SegmentSource.values), name="segment_source_valid"),
            CheckConstraint(
                condition=(Q(source=SegmentSource.MANUAL) & Q(analysis__isnull=True))
                | (Q(source=SegmentSource.DETECTED) & Q(analysis__isnull=False)),
                name="segment_manual_iff_no_analysis",
            ),
            # No overlap within (movie, scene type, source/analysis) and end_s <= duration: migration 0002.
        ]

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


class MovieSceneStats(models.Model):
    """Per movie and scene type: how many segments and how many seconds of them.

    Kept up to date by triggers on library_segment (once per statement, migration 0006), never written from Python,
    so that the library list can filter and sort by scene counts without aggregating every segment on each
    request. `title` is the movie's, copied by a trigger on library_movie, so that the scene search counts from
    this table alone.
    """

    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="scene_stats")
    scene_type = models.ForeignKey(SceneType, on_delete=models.CASCADE, related_name="+")
    segment_count = models.IntegerField(default=0)
    scene_seconds = models.FloatField(default=0.0)
    title = models.CharField(max_length=300)

    class Meta:
        constraints = [
            UniqueConstraint(fields=["movie", "scene_type"], name="one_stats_row_per_movie_and_scene_type"),
        ]
        indexes = [models.Index(fields=["scene_type", "segment_count"])]


class SceneCountBucket(models.Model):
    """How many movies have exactly `segment_count` scenes of a scene type (among their totals rows).

    Kept by triggers on the totals (migration 0007), never written from Python: the library list counts "movies
    with at least n scenes" by summing a few of these instead of walking one index entry per movie.
    """

    scene_type = models.ForeignKey(SceneType, on_delete=models.CASCADE, related_name="+")
    segment_count = models.IntegerField()
    movies = models.IntegerField()

    class Meta:
        constraints = [
            UniqueConstraint(fields=["scene_type", "segment_count"], name="one_bucket_per_scene_count"),
            CheckConstraint(condition=Q(movies__gte=0), name="bucket_movies_not_negative"),
        ]


class AnnotationLabel(models.TextChoices):
    POSITIVE = "positive"
    NEGATIVE = "negative"


class Annotation(models.Model):
    """A span a person labelled: the raw material for training."""

    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="annotations")
    scene_type = models.ForeignKey(SceneType, on_delete=models.CASCADE, related_name="annotations")
    start_s = models.FloatField()
    end_s = models.FloatField()
    label = models.CharField(max_length=16, choices=AnnotationLabel.choices)
    segment = models.ForeignKey(
        Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="reviews",
        help_text="The detected segment this annotation confirms or rejects, if any.",
    )
    model_version = models.ForeignKey(
        "analysis.ModelVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="reviews",
        help_text="The model that produced the reviewed segment.",
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotations")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["movie_id", "start_s"]
        constraints = [
            CheckConstraint(condition=Q(start_s__gte=0), name="annotation_start_nonnegative"),
            CheckConstraint(condition=Q(start_s__lt=F("end_s")), name="annotation_start_before_end"),
            CheckConstraint(condition=Q(label__in=AnnotationLabel.values), name="annotation_label_valid"),
        ]
