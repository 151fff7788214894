"""Thin API views: parse input, call a service or selector, serialize the result."""

from __future__ import annotations

from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from kissweb.library.selectors import health_read


class HealthApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        report = health_read()
        return Response(report, status=200 if report["status"] == "ok" else 503)
