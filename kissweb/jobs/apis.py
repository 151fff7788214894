"""The one API shape of a run's progress, and cancelling a run."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from kissweb import errors, permissions
from kissweb.jobs import selectors
from kissweb.jobs.models import RunStatus
from kissweb.jobs.runner import run_cancel


class RunProgressSerializer(serializers.Serializer):
    """Any background run (analysis, re-score, training, re-derivation, ...) as the progress widget shows it."""

    id = serializers.IntegerField()
    url = serializers.CharField()
    kind = serializers.CharField()
    subject_type = serializers.CharField()
    subject_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=RunStatus.choices)
    attempts = serializers.IntegerField()
    max_attempts = serializers.IntegerField()
    progress = serializers.FloatField()
    eta_s = serializers.FloatField(allow_null=True)
    stage = serializers.CharField()
    waiting_for_worker = serializers.BooleanField(
        help_text="No worker is on it: running but its heartbeat is silent, or queued long past its hand-over."
    )
    heartbeat_at = serializers.DateTimeField(allow_null=True)
    queued_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    cancel_requested = serializers.BooleanField()
    error = errors.PublicTextField()


class RunDetailApi(APIView):
    @extend_schema(responses={200: RunProgressSerializer}, summary="A run's status, progress, stage and ETA.")
    def get(self, request, job_id: int):
        run = selectors.run_get(run_id=job_id)
        permissions.require(user=request.user, action=permissions.READ, subject=run)
        return Response(selectors.run_progress(run))


class RunCancelApi(APIView):
    @extend_schema(
        request=None, responses={200: RunProgressSerializer},
        summary="Cancel a queued run now, or ask a running one to stop at its next progress report.",
    )
    def post(self, request, job_id: int):
        run = selectors.run_get(run_id=job_id)
        permissions.require(user=request.user, action=permissions.CHANGE, subject=run)
        return Response(selectors.run_progress(run_cancel(run=run)))
