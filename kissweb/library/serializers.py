"""Input validation and output shapes of the library API.

Lists are built from `.values()` rows by plain functions (fast, a fixed number of queries); the Serializer
classes describing the same shapes feed the OpenAPI schema and validate input.
"""

from __future__ import annotations

from rest_framework import serializers

from kissweb import errors, permissions
from kissweb.jobs.apis import RunProgressSerializer
from kissweb.library.models import AnnotationLabel, MovieStatus, SegmentSource


def movie_output(row: dict, *, user, scene_types: list[dict], run: dict | None = None) -> dict:
    """One movie as the API shows it, from a `selectors.movie_page` row, its per-scene-type totals and the progress
    of its queued or running analysis run (kissweb.jobs.selectors.run_progress), if any."""
    movie_id = row["id"]
    base = f"/api/movies/{movie_id}/"
    return {
        "id": movie_id,
        "title": row["title"],
        "year": row["year"],
        "original_filename": row["original_filename"],
        "size_bytes": row["size_bytes"],
        "duration_s": row["duration_s"],
        "width": row["width"],
        "height": row["height"],
        "fps": row["fps"],
        "has_audio": row["has_audio"],
        "status": row["status"],
        "progress": row["progress"],
        "eta_s": row["eta_s"],
        "error": errors.without_paths(row["error"], movie_title=row["title"]),
        "audio_warning": errors.without_paths(row["audio_warning"], movie_title=row["title"]),
        "created_at": row["created_at"],
        "uploaded_by": row["uploaded_by_username"],
        "can_edit": permissions.allows(user=user, action=permissions.CHANGE,
                                       subject=permissions.Subject("movie", owner_id=row["uploaded_by_id"])),
        "poster_url": f"{base}poster/" if row["poster"] else None,
        "stream_url": f"{base}stream/",
        "chapters_url": f"{base}chapters.vtt",
        "page_url": f"/movies/{movie_id}/",
        "scene_types": scene_types,
        "run": run,
    }


def thumbnail_url(movie_id: int, at_s: float) -> str:
    return f"/api/movies/{movie_id}/thumbnail/?t={round(at_s, 1):g}"


def segment_output(row: dict, *, user) -> dict:
    start_s, end_s = row["start_s"], row["end_s"]
    return {
        "id": row["id"],
        "movie": row["movie_id"],
        "movie_title": row["movie_title"],
        "scene_type": row["scene_type_slug"],
        "scene_type_name": row["scene_type_name"],
        "start_s": start_s,
        "end_s": end_s,
        "duration_s": round(end_s - start_s, 3),
        "confidence": row["confidence"],
        "source": row["source"],
        "model_version": row["model_version_id"],
        "created_at": row["created_at"],
        "can_edit": permissions.allows(user=user, action=permissions.CHANGE,
                                       subject=permissions.Subject("segment", owner_id=row["uploaded_by_id"])),
        "thumbnail_url": thumbnail_url(row["movie_id"], start_s + min(1.0, (end_s - start_s) / 2)),
        "play_url": f"/movies/{row['movie_id']}/?t={start_s:g}",
    }


def segment_instance_output(segment, *, user) -> dict:
    return segment_output(
        {
            "id": segment.pk, "movie_id": segment.movie_id, "movie_title": segment.movie.title,
            "scene_type_slug": segment.scene_type.slug, "scene_type_name": segment.scene_type.name,
            "start_s": segment.start_s, "end_s": segment.end_s, "confidence": segment.confidence,
            "source": segment.source, "model_version_id": segment.model_version_id,
            "created_at": segment.created_at, "uploaded_by_id": segment.movie.uploaded_by_id,
        },
        user=user,
    )


# --- schema shapes (and input validation) ---------------------------------------------------------------

# The largest values Postgres columns hold: a number past them is a 400 here, not a database error.
PG_INT_MAX = 2**31 - 1
PG_BIGINT_MAX = 2**63 - 1


class SceneTypeTotalsSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    has_model = serializers.BooleanField(help_text="False: no active model yet, so no scenes can be found.")
    segment_count = serializers.IntegerField()
    scene_seconds = serializers.FloatField()


class MovieOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    year = serializers.IntegerField(allow_null=True)
    original_filename = serializers.CharField()
    # null while a movie added from a URL is downloading (or when its download failed): nothing was read yet
    size_bytes = serializers.IntegerField(allow_null=True)
    duration_s = serializers.FloatField(allow_null=True)
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    fps = serializers.FloatField(allow_null=True)
    has_audio = serializers.BooleanField(allow_null=True)
    status = serializers.ChoiceField(choices=MovieStatus.choices)
    progress = serializers.FloatField()
    eta_s = serializers.FloatField(allow_null=True)
    error = serializers.CharField(
        help_text="Why the last run failed. With status `failed` the movie has no usable analysis; with status `ready` "
        "a re-scoring failed and the scenes shown are those of the analysis before it (a warning)."
    )
    audio_warning = serializers.CharField(
        help_text="Non-empty when the film's audio track could not be decoded and the analysis used silence instead."
    )
    created_at = serializers.DateTimeField()
    uploaded_by = serializers.CharField()
    can_edit = serializers.BooleanField()
    poster_url = serializers.CharField(allow_null=True)
    stream_url = serializers.CharField()
    chapters_url = serializers.CharField()
    page_url = serializers.CharField()
    scene_types = SceneTypeTotalsSerializer(many=True)
    run = RunProgressSerializer(allow_null=True, help_text="The queued or running analysis, as every run's progress.")


class MovieCreateInputSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False, use_url=False)
    title = serializers.CharField(required=False, allow_blank=True, max_length=300)
    year = serializers.IntegerField(required=False, allow_null=True, min_value=1870, max_value=2200)


class MovieFromUrlInputSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000, help_text="An https:// file link, or a page of a site yt-dlp knows.")
    title = serializers.CharField(required=False, allow_blank=True, max_length=300)


class MovieUpdateInputSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, max_length=300)
    year = serializers.IntegerField(required=False, allow_null=True, min_value=1870, max_value=2200)


class MovieListFilterSerializer(serializers.Serializer):
    search = serializers.CharField(required=False, allow_blank=True, max_length=200)
    scene_type = serializers.SlugField(required=False, allow_blank=True)
    min_segments = serializers.IntegerField(required=False, min_value=0, max_value=PG_BIGINT_MAX)
    status = serializers.ChoiceField(required=False, choices=MovieStatus.choices, allow_blank=True)
    ordering = serializers.CharField(required=False, allow_blank=True, default="-created_at")


class SegmentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    movie = serializers.IntegerField()
    movie_title = serializers.CharField()
    scene_type = serializers.SlugField()
    scene_type_name = serializers.CharField()
    start_s = serializers.FloatField()
    end_s = serializers.FloatField()
    duration_s = serializers.FloatField()
    confidence = serializers.FloatField()
    source = serializers.ChoiceField(choices=SegmentSource.choices)
    model_version = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    can_edit = serializers.BooleanField()
    thumbnail_url = serializers.CharField()
    play_url = serializers.CharField()


class SegmentCreateInputSerializer(serializers.Serializer):
    scene_type = serializers.SlugField()
    start_s = serializers.FloatField(min_value=0)
    end_s = serializers.FloatField(min_value=0)


class SegmentUpdateInputSerializer(serializers.Serializer):
    start_s = serializers.FloatField(required=False, min_value=0)
    end_s = serializers.FloatField(required=False, min_value=0)


class SegmentSearchFilterSerializer(serializers.Serializer):
    scene_type = serializers.SlugField(required=False, allow_blank=True)
    search = serializers.CharField(required=False, allow_blank=True, max_length=200)
    min_duration = serializers.FloatField(required=False, min_value=0)
    movie = serializers.IntegerField(required=False, min_value=1, max_value=PG_BIGINT_MAX)
    source = serializers.ChoiceField(required=False, choices=SegmentSource.choices, allow_blank=True)
    ordering = serializers.CharField(required=False, allow_blank=True, default="movie")


class ActiveModelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    backbone_set = serializers.CharField()
    created_at = serializers.DateTimeField()


class SceneTypeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.SlugField()
    name = serializers.CharField()
    description = serializers.CharField()
    cut = serializers.FloatField()
    min_frames = serializers.IntegerField()
    threshold = serializers.FloatField()
    created_at = serializers.DateTimeField()
    active_model = ActiveModelSerializer(allow_null=True)


class ScenePresetSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    cut = serializers.FloatField()
    min_frames = serializers.IntegerField()
    threshold = serializers.FloatField()


class SceneDefaultsOutputSerializer(serializers.Serializer):
    preset = serializers.CharField(help_text="The preset a new scene type starts with.")
    cut = serializers.FloatField()
    min_frames = serializers.IntegerField()
    threshold = serializers.FloatField()
    presets = ScenePresetSerializer(many=True)


class SceneTypeCreateInputSerializer(serializers.Serializer):
    slug = serializers.SlugField(max_length=50)
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class SceneTypeUpdateInputSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=100)
    description = serializers.CharField(required=False, allow_blank=True)
    # The same bounds as the database's CHECK constraints, here only for a friendlier message.
    cut = serializers.FloatField(required=False, min_value=0.001, max_value=0.999)
    min_frames = serializers.IntegerField(required=False, min_value=1, max_value=PG_INT_MAX)
    threshold = serializers.FloatField(required=False, min_value=0.001, max_value=1)


class AnnotationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    movie = serializers.IntegerField(source="movie_id")
    scene_type = serializers.SlugField(source="scene_type.slug")
    start_s = serializers.FloatField()
    end_s = serializers.FloatField()
    label = serializers.ChoiceField(choices=AnnotationLabel.choices)
    segment = serializers.IntegerField(source="segment_id", allow_null=True)
    model_version = serializers.IntegerField(source="model_version_id", allow_null=True)
    author = serializers.CharField(source="author.username")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    can_edit = serializers.SerializerMethodField()

    def get_can_edit(self, annotation) -> bool:
        return permissions.allows(user=self.context["request"].user, action=permissions.CHANGE, subject=annotation)


class AnnotationCreateInputSerializer(serializers.Serializer):
    scene_type = serializers.SlugField()
    start_s = serializers.FloatField(min_value=0)
    end_s = serializers.FloatField(min_value=0)
    label = serializers.ChoiceField(choices=AnnotationLabel.choices)


class AnnotationUpdateInputSerializer(serializers.Serializer):
    scene_type = serializers.SlugField(required=False)
    start_s = serializers.FloatField(required=False, min_value=0)
    end_s = serializers.FloatField(required=False, min_value=0)
    label = serializers.ChoiceField(required=False, choices=AnnotationLabel.choices)


class ReviewInputSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=["confirm", "reject"])


class TokenInputSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField()


ErrorSerializer = errors.ErrorSerializer


class DuplicateMovieErrorSerializer(errors.ErrorSerializer):
    movie = serializers.DictField(help_text="{id, title, page_url} of the movie already holding this file.")

