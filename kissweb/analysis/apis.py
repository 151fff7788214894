"""Thin API views of the analysis pipeline: analyze, analyses, scores, model versions."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser
from rest_framework.response import Response
from rest_framework.views import APIView

from kissweb import errors, permissions
from kissweb.analysis import housekeeping, selectors, services
from kissweb.analysis.serializers import ModelVersionOutputSerializer
from kissweb.jobs.apis import RunProgressSerializer
from kissweb.jobs.models import RunStatus
from kissweb.jobs.selectors import run_progress
from kissweb.library import selectors as library_selectors
from kissweb.analysis.models import Analysis, AnalysisKind
from kissweb.parsers import MultiPartParser


class AnalysisOutputSerializer(serializers.ModelSerializer):
    """What the analysis produced, with its run's lifecycle under the names it always had, and `run`: the one
    progress shape every kind of run has."""

    model_versions = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    kind = serializers.ChoiceField(source="run.kind", choices=AnalysisKind.choices, read_only=True)
    status = serializers.ChoiceField(source="run.status", choices=RunStatus.choices, read_only=True)
    attempts = serializers.IntegerField(source="run.attempts", read_only=True)
    progress = serializers.FloatField(source="run.progress", read_only=True)
    eta_s = serializers.FloatField(source="run.eta_s", read_only=True, allow_null=True)
    stage = serializers.CharField(source="run.stage", read_only=True)
    heartbeat_at = serializers.DateTimeField(source="run.heartbeat_at", read_only=True, allow_null=True)
    queued_at = serializers.DateTimeField(source="run.queued_at", read_only=True)
    started_at = serializers.DateTimeField(source="run.started_at", read_only=True, allow_null=True)
    finished_at = serializers.DateTimeField(source="run.finished_at", read_only=True, allow_null=True)
    error = errors.PublicTextField(source="run.error", movie_title="movie.title")
    run = serializers.SerializerMethodField()

    class Meta:
        model = Analysis
        fields = [
            "id", "movie", "kind", "status", "attempts", "progress", "eta_s", "stage", "heartbeat_at",
            "queued_at", "started_at", "finished_at", "timings_s", "backbone_set", "model_versions", "changes",
            "error", "run",
        ]

    @extend_schema_field(RunProgressSerializer)
    def get_run(self, analysis: Analysis) -> dict:
        return run_progress(analysis.run)


class AnalysisActiveOutput(errors.ErrorSerializer):
    analysis = serializers.IntegerField(allow_null=True, help_text="The analysis already queued or running.")
    run = RunProgressSerializer(allow_null=True)


class MovieAnalyzeApi(APIView):
    @extend_schema(request=None, responses={202: AnalysisOutputSerializer, 409: AnalysisActiveOutput})
    def post(self, request, movie_id: int):
        movie = library_selectors.movie_get(movie_id=movie_id)
        permissions.require(user=request.user, action=permissions.CHANGE, subject=movie)
        try:
            analysis = services.analysis_request(movie=movie, requested_by=request.user)
        except services.AnalysisAlreadyActive as exc:
            active = Analysis.objects.filter(run=exc.run).first() if exc.run else None
            exc.extra["analysis"] = active.pk if active else None
            raise
        except errors.Conflict as exc:  # every 409 of this operation has the shape the schema declares
            exc.extra.setdefault("analysis", None)
            exc.extra.setdefault("run", None)
            raise
        return Response(AnalysisOutputSerializer(analysis).data, status=status.HTTP_202_ACCEPTED)


class MovieAnalysisListApi(ListAPIView):
    serializer_class = AnalysisOutputSerializer

    queryset = Analysis.objects.none()  # for the schema; get_queryset gives the movie's analyses

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Analysis.objects.none()
        movie = library_selectors.movie_get(movie_id=self.kwargs["movie_id"])
        return selectors.analysis_list(movie=movie)


class AnalysisDetailApi(APIView):
    @extend_schema(responses={200: AnalysisOutputSerializer})
    def get(self, request, analysis_id: int):
        analysis = selectors.analysis_get(analysis_id=analysis_id)
        return Response(AnalysisOutputSerializer(analysis).data)


class MovieScoresApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("scene_type", str, description="Default: kissing")],
        responses={
            200: inline_serializer(
                "MovieScores",
                {
                    "window_s": serializers.FloatField(),
                    "scores": serializers.ListField(child=serializers.FloatField()),
                    "model_version": serializers.IntegerField(),
                    "model_is_active": serializers.BooleanField(),
                },
            )
        }
    )
    def get(self, request, movie_id: int):
        movie = library_selectors.movie_get(movie_id=movie_id)
        slug = request.query_params.get("scene_type") or "kissing"
        scene_type = library_selectors.scene_type_get(slug=slug)
        try:
            result = selectors.movie_scores(movie=movie, scene_type=scene_type)
        except selectors.ScoresUnavailable as exc:
            has_model = selectors.scene_type_has_model(scene_type=scene_type)
            raise errors.NotFound(str(exc), code="no_scores", extra={"scene_type": slug, "has_model": has_model}) from exc
        return Response(
            {
                "window_s": result.window_s,
                "scores": result.scores,
                "model_version": result.model_version_id,
                "model_is_active": result.model_is_active,
            }
        )


class ModelVersionListApi(ListAPIView):
    serializer_class = ModelVersionOutputSerializer

    def get_queryset(self):
        return selectors.model_version_list(scene_type_slug=self.request.query_params.get("scene_type") or None)


class ModelVersionDetailApi(APIView):
    @extend_schema(responses={200: ModelVersionOutputSerializer})
    def get(self, request, model_id: int):
        version = selectors.model_version_get(model_id=model_id)
        return Response(ModelVersionOutputSerializer(version).data)


class SceneTypeModelUploadApi(APIView):
    permission_classes = [permissions.Allowed(permissions.CREATE, "model")]
    parser_classes = [MultiPartParser, FormParser]

    # The published model carries its own ResNet-18 and VGGish (about 340 MB); a trained head is a few kilobytes.
    MAX_MODEL_BYTES = 1024 * 1024 * 1024

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(use_url=False, help_text="A .safetensors model file, or the published project's model.pkl.")
        name = serializers.CharField(required=False, allow_blank=True, max_length=200)

        def validate_file(self, file):
            limit = SceneTypeModelUploadApi.MAX_MODEL_BYTES
            if file.size > limit:
                raise serializers.ValidationError(
                    f"This file is {file.size / 1e6:.0f} MB; a scene model file is at most {limit // 2**20} MB "
                    "(the published model with its own backbones is about 340 MB, a trained head a few kilobytes)."
                )
            return file

    @extend_schema(request={"multipart/form-data": InputSerializer}, responses={201: ModelVersionOutputSerializer})
    def post(self, request, slug: str):
        scene_type = library_selectors.scene_type_get(slug=slug)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.model_version_create(
            scene_type=scene_type,
            file=data.validated_data["file"],
            name=data.validated_data.get("name", ""),
            user=request.user,
        )
        return Response(ModelVersionOutputSerializer(version).data, status=status.HTTP_201_CREATED)


class ActivationCostOutputSerializer(serializers.Serializer):
    model_version = serializers.IntegerField()
    backbone_set = serializers.CharField()
    backbone_digest = serializers.CharField()
    films = serializers.IntegerField(help_text="Analysed films that activation re-scores.")
    rescore_from_stored = serializers.IntegerField(help_text="Of those, films re-scored from stored embeddings.")
    decode_films = serializers.IntegerField(help_text="Films decoded once because they lack the model's backbones.")
    decode_seconds = serializers.FloatField()
    decode_hours = serializers.FloatField()
    busy_films = serializers.IntegerField(help_text="Films being analysed now; they pick the model up.")
    message = serializers.CharField()


class ModelVersionActivationCostApi(APIView):
    permission_classes = [permissions.Allowed(permissions.ACTIVATE, "model")]

    @extend_schema(
        responses={200: ActivationCostOutputSerializer},
        summary="What activating this model would cost: films re-scored, films and hours of video decoded (staff).",
    )
    def get(self, request, model_id: int):
        version = selectors.model_version_get(model_id=model_id)
        cost = selectors.model_version_activation_cost(model_version=version)
        return Response(ActivationCostOutputSerializer(cost).data)


class ModelVersionActivateApi(APIView):
    permission_classes = [permissions.Allowed(permissions.ACTIVATE, "model")]

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "ModelActivation",
                {
                    "model": ModelVersionOutputSerializer(),
                    "rescore": inline_serializer(
                        "RescorePlan",
                        {
                            "rescore": serializers.IntegerField(),
                            "re_embed": serializers.IntegerField(),
                            "busy": serializers.IntegerField(),
                            "analysis_ids": serializers.ListField(child=serializers.IntegerField()),
                            "message": serializers.CharField(),
                        },
                    ),
                },
            ),
            **errors.error_responses(409, 422),
        },
    )
    def post(self, request, model_id: int):
        version = selectors.model_version_get(model_id=model_id)
        plan = services.model_version_activate(model_version=version, user=request.user)
        version.refresh_from_db()
        return Response({"model": ModelVersionOutputSerializer(version).data, "rescore": plan.as_dict()})


class EmbeddingsUnusedOutput(serializers.Serializer):
    files = serializers.IntegerField(help_text="Stored embeddings no model can use any more.")
    bytes = serializers.IntegerField(help_text="The space their files take.")


class EmbeddingsCleanupOutput(serializers.Serializer):
    unused = EmbeddingsUnusedOutput()
    run = RunProgressSerializer(
        allow_null=True, help_text="The latest cleanup run; once finished, its stage says how much space it freed."
    )


class EmbeddingsCleanupApi(APIView):
    """Embeddings of backbone sets that no model uses (their models were deleted): what removing them would free, and
    the run that removes them (the sweeper queues one by itself when there are any)."""

    permission_classes = [permissions.Allowed(permissions.DELETE, "model")]

    @extend_schema(responses={200: EmbeddingsCleanupOutput},
                   summary="Unused stored embeddings, and what the latest cleanup freed (staff).")
    def get(self, request):
        latest = housekeeping.embeddings_cleanup_latest()
        return Response({"unused": housekeeping.embeddings_unused_size(),
                         "run": run_progress(latest) if latest else None})

    @extend_schema(request=None, responses={202: RunProgressSerializer},
                   summary="Queue removing the stored embeddings no model uses (staff).")
    def post(self, request):
        run = housekeeping.embeddings_cleanup_request(user=request.user)
        return Response(run_progress(run), status=status.HTTP_202_ACCEPTED)
