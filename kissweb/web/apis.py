"""GET|PUT /api/me/preferences/: the signed-in person's player preferences."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from kissweb.web.selectors import skip_preferences_get
from kissweb.web.services import skip_preferences_update


class PreferencesApi(APIView):
    class InputSerializer(serializers.Serializer):
        skip = serializers.DictField(
            child=serializers.CharField(),
            help_text='Scene type slug -> "show", "ask" or "skip". Scene types left out keep their mode.',
        )

    class OutputSerializer(serializers.Serializer):
        skip = serializers.DictField(child=serializers.CharField())

    def get(self, request):
        return Response(self.OutputSerializer({"skip": skip_preferences_get(user=request.user)}).data)

    def put(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        skip_preferences_update(user=request.user, modes=data.validated_data["skip"])
        return Response(self.OutputSerializer({"skip": skip_preferences_get(user=request.user)}).data)
