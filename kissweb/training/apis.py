"""Thin API views of training: parse, call a service or selector, serialize."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import FormParser
from rest_framework.response import Response
from rest_framework.views import APIView

from kissweb import errors, permissions
from kissweb.analysis import model_files
from kissweb.analysis import selectors as analysis_selectors
from kissweb.analysis.serializers import ModelVersionOutputSerializer
from kissweb.jobs.apis import RunProgressSerializer
from kissweb.jobs.models import RunStatus
from kissweb.jobs.selectors import run_latest, run_progress
from kissweb.library import selectors as library_selectors
from kissweb.parsers import MultiPartParser
from kissweb.training import selectors, services
from kissweb.training.dataset import NotEnoughAnnotations, annotation_span_counts, not_enough_message, spans_needed
from kissweb.training.models import TrainingRun


class TrainingRunOutput(serializers.ModelSerializer):
    """What the training produced, with its run's lifecycle under the names it always had, and `run`: the one
    progress shape every kind of run has."""

    scene_type = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    model_version_status = serializers.CharField(source="model_version.status", default=None, read_only=True,
                                                 allow_null=True)
    metrics = serializers.JSONField(source="model_version.metrics", default=None, read_only=True)
    url = serializers.SerializerMethodField()
    status = serializers.ChoiceField(source="run.status", choices=RunStatus.choices, read_only=True)
    stage = serializers.CharField(source="run.stage", read_only=True)
    progress = serializers.FloatField(source="run.progress", read_only=True)
    eta_s = serializers.FloatField(source="run.eta_s", read_only=True, allow_null=True)
    heartbeat_at = serializers.DateTimeField(source="run.heartbeat_at", read_only=True, allow_null=True)
    queued_at = serializers.DateTimeField(source="run.queued_at", read_only=True)
    started_at = serializers.DateTimeField(source="run.started_at", read_only=True, allow_null=True)
    finished_at = serializers.DateTimeField(source="run.finished_at", read_only=True, allow_null=True)
    error = errors.PublicTextField(source="run.error")
    run = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = [
            "id", "url", "scene_type", "status", "stage", "progress", "eta_s", "heartbeat_at", "queued_at",
            "started_at", "finished_at", "n_spans", "n_movies", "n_seconds", "timings_s", "model_version",
            "model_version_status", "metrics", "error", "run",
        ]

    def get_url(self, run) -> str:
        return f"/api/training-runs/{run.pk}/"

    @extend_schema_field(RunProgressSerializer)
    def get_run(self, training: TrainingRun) -> dict:
        return run_progress(training.run)


class RefusalOutput(errors.ErrorSerializer):
    spans_needed = serializers.DictField(child=serializers.IntegerField(), required=False)


class TrainApi(APIView):
    permission_classes = [permissions.Allowed(permissions.TRAIN, "scene_type")]

    @extend_schema(
        request=None,
        responses={202: TrainingRunOutput, 409: errors.ErrorSerializer, 422: RefusalOutput},
        summary="Queue a training run of the scene type on the library's annotated spans (staff only).",
    )
    def post(self, request, slug: str):
        scene_type = library_selectors.scene_type_get(slug=slug)
        try:
            run = services.training_request(scene_type=scene_type, requested_by=request.user)
        except NotEnoughAnnotations as exc:
            exc.extra["spans_needed"] = spans_needed(**annotation_span_counts(scene_type=scene_type))
            raise
        return Response(TrainingRunOutput(run).data, status=status.HTTP_202_ACCEPTED)


class TrainingRunListApi(APIView):
    @extend_schema(responses=TrainingRunOutput(many=True), summary="The scene type's latest training runs.")
    def get(self, request, slug: str):
        scene_type = library_selectors.scene_type_get(slug=slug)
        return Response(TrainingRunOutput(selectors.training_run_list(scene_type=scene_type), many=True).data)


class TrainingRunDetailApi(APIView):
    @extend_schema(responses=TrainingRunOutput, summary="A training run: status, progress, ETA, and its model's metrics.")
    def get(self, request, run_id: int):
        return Response(TrainingRunOutput(selectors.training_run_get(run_id=run_id)).data)


class SuggestionOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["unsure", "unreviewed"])
    movie_id = serializers.IntegerField()
    movie_title = serializers.CharField()
    segment_id = serializers.IntegerField(required=False)
    start_s = serializers.FloatField()
    end_s = serializers.FloatField()
    score = serializers.FloatField()
    why = serializers.CharField()
    link = serializers.CharField()


class SuggestionListOutput(serializers.Serializer):
    model_version = serializers.IntegerField(allow_null=True)
    results = SuggestionOutput(many=True)
    detail = serializers.CharField(required=False)


class SuggestionListApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description="How many (1..100, default 20).")],
        responses=SuggestionListOutput,
        summary="Spans to label next: where the active model is least sure, and detections nobody reviewed.",
    )
    def get(self, request, slug: str):
        scene_type = library_selectors.scene_type_get(slug=slug)
        try:
            limit = min(100, max(1, int(request.query_params.get("limit", 20))))
        except ValueError:
            message = "limit must be a whole number between 1 and 100."
            raise errors.Invalid(message, fields={"limit": message}) from None
        return Response(SuggestionListOutput(selectors.suggestion_list(scene_type=scene_type, limit=limit)).data)


class ObservedPrecisionOutput(serializers.Serializer):
    confirmed = serializers.IntegerField()
    rejected = serializers.IntegerField()
    precision = serializers.FloatField(allow_null=True)


class VersionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    is_active = serializers.BooleanField()
    backbone_set = serializers.CharField()
    backbone_digest = serializers.CharField(help_text="SHA-256 naming the backbone weights it scores.")
    channel_order = serializers.CharField(help_text="RGB, or BGR for the published model (as it was trained).")
    fine_tuned_backbones = serializers.BooleanField(help_text="Its backbones are its own fine-tuned ones.")
    created_at = serializers.DateTimeField()
    origin = serializers.CharField()
    training_run = serializers.IntegerField(allow_null=True)
    heldout = serializers.DictField(help_text="Measured here on held-out labelled spans.")
    reported = serializers.DictField(help_text="Figures the model's authors reported (not measured here).")
    observed = ObservedPrecisionOutput()
    download_url = serializers.CharField(allow_null=True)
    error = errors.PublicTextField()


class StatsOutput(serializers.Serializer):
    scene_type = serializers.CharField()
    name = serializers.CharField()
    active_model = serializers.IntegerField(allow_null=True)
    annotations = serializers.DictField(child=serializers.IntegerField())
    can_train = serializers.BooleanField()
    spans_needed = serializers.DictField(child=serializers.IntegerField())
    active_training_run = serializers.IntegerField(allow_null=True)
    rederive_run = RunProgressSerializer(
        allow_null=True, help_text="Re-deriving the scenes after a settings save: while it runs, or when it failed."
    )
    versions = VersionOutput(many=True)


class StatsApi(APIView):
    @extend_schema(
        responses=StatsOutput,
        summary="Model versions side by side: held-out metrics and the precision people observed.",
    )
    def get(self, request, slug: str):
        stats = selectors.scene_type_stats(scene_type=library_selectors.scene_type_get(slug=slug))
        return Response(StatsOutput(stats).data)


class ModelDownloadApi(APIView):
    @extend_schema(
        responses={(200, "application/octet-stream"): bytes},
        summary="The model file (.safetensors, its card inside).",
    )
    def get(self, request, model_id: int):
        version = analysis_selectors.model_version_get(model_id=model_id)
        handle, filename = model_files.model_file_open(model_version=version)
        return FileResponse(handle, as_attachment=True, filename=filename, content_type="application/octet-stream")


class ReferenceImportInput(serializers.Serializer):
    file = serializers.FileField(use_url=False, help_text="The published project's model.pkl.")


class ReferenceImportApi(APIView):
    permission_classes = [permissions.Allowed(permissions.CREATE, "model")]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": ReferenceImportInput},
        responses={201: ModelVersionOutputSerializer, 400: RefusalOutput},
        summary="Import the published model.pkl (converted safely, never unpickled as code) as a new version.",
    )
    def post(self, request, slug: str):
        scene_type = library_selectors.scene_type_get(slug=slug)
        data = ReferenceImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        version = model_files.reference_import(
            scene_type=scene_type, file=data.validated_data["file"], user=request.user
        )
        return Response(ModelVersionOutputSerializer(version).data, status=status.HTTP_201_CREATED)


class QualityEstimateOutput(serializers.Serializer):
    computed_at = serializers.DateTimeField()
    backbone_set = serializers.CharField()
    n_seconds = serializers.IntegerField(help_text="Labelled seconds the figure rests on.")
    n_scene_seconds = serializers.IntegerField()
    n_movies = serializers.IntegerField(help_text="Movies the figure rests on (the folds are made of whole movies).")
    n_scene_movies = serializers.IntegerField()
    n_folds = serializers.IntegerField()
    enough = serializers.BooleanField(help_text="False: the figure rests on too few movies or scene seconds.")
    metrics = serializers.DictField()
    warnings = serializers.ListField(child=serializers.CharField())
    duration_s = serializers.FloatField()
    enough_means = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="What a trustworthy figure needs: movies with and without the scene (each), seconds of the scene.",
    )


class QualityOutput(serializers.Serializer):
    current = serializers.BooleanField(help_text="The estimate rests on the labels as they are now.")
    estimate = QualityEstimateOutput(allow_null=True)
    spans_needed = serializers.DictField(child=serializers.IntegerField())


class QualityApi(APIView):
    permission_classes = [permissions.ReadOr(permissions.TRAIN, "scene_type")]

    @extend_schema(
        responses=QualityOutput,
        summary="Cross-validated quality of the current labels (k-fold over movies) and what it rests on.",
    )
    def get(self, request, slug: str):
        scene_type = library_selectors.scene_type_get(slug=slug)
        latest = selectors.quality_estimate_latest(scene_type=scene_type)
        needed = spans_needed(**annotation_span_counts(scene_type=scene_type, embedded_only=True))
        return Response(QualityOutput({**latest, "spans_needed": needed}).data)

    @extend_schema(
        request=None,
        responses={202: RunProgressSerializer, 422: RefusalOutput},
        summary="Queue a new cross-validation of the scene type's current labels (staff only).",
    )
    def post(self, request, slug: str):
        scene_type = library_selectors.scene_type_get(slug=slug)
        usable = annotation_span_counts(scene_type=scene_type, embedded_only=True)
        needed = spans_needed(**usable)
        if any(needed.values()):
            message = not_enough_message(scene_type=scene_type, what="usable", **usable)
            raise NotEnoughAnnotations(message, extra={"spans_needed": needed})
        run = services.quality_estimate_request(scene_type=scene_type, user=request.user)
        return Response(run_progress(run), status=status.HTTP_202_ACCEPTED)


class PublishedModelFetchOutput(serializers.Serializer):
    run = RunProgressSerializer(allow_null=True, help_text="The latest run of getting the published model, if any.")


class PublishedModelFetchApi(APIView):
    permission_classes = [permissions.Allowed(permissions.CREATE, "model")]

    @extend_schema(responses=PublishedModelFetchOutput, summary="The latest run of getting the published model (staff).")
    def get(self, request, slug: str):
        scene_type = library_selectors.scene_type_get(slug=slug)
        run = run_latest(kind=model_files.PublishedModelFetchRunner.kind, subject_id=scene_type.pk)
        return Response({"run": run_progress(run) if run else None})

    @extend_schema(
        request=None, responses={202: RunProgressSerializer, 400: RefusalOutput},
        summary="Queue getting the published kissing model: download, safe import, a new model version (staff).",
    )
    def post(self, request, slug: str):
        scene_type = library_selectors.scene_type_get(slug=slug)
        run = model_files.published_model_fetch_request(scene_type=scene_type, user=request.user)
        return Response(run_progress(run), status=status.HTTP_202_ACCEPTED)
