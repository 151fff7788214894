"""GET|PUT /api/me/preferences/: the signed-in person's player preferences."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from kissweb.web.selectors import skip_preferences_get
from kissweb.web.services import skip_preferences_update


class PreferencesInputSerializer(serializers.Serializer):
    skip = serializers.DictField(
        child=serializers.CharField(),
        help_text='Scene type slug -> "show", "ask" or "skip". Scene types left out keep their mode.',
    )

    def validate_skip(self, modes: dict) -> dict:
        slug = serializers.SlugField()
        for key in modes:
            try:
                slug.run_validation(key)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError(f"{key!r} is not a scene type slug: {exc.detail[0]}") from exc
        return modes


class PreferencesOutputSerializer(serializers.Serializer):
    skip = serializers.DictField(
        child=serializers.CharField(), help_text='Every scene type slug -> "show", "ask" or "skip".'
    )


class PreferencesApi(APIView):
    """The signed-in person's player settings: what the player does when a scene of each type comes up."""

    @extend_schema(responses={200: PreferencesOutputSerializer})
    def get(self, request):
        return Response(PreferencesOutputSerializer({"skip": skip_preferences_get(user=request.user)}).data)

    @extend_schema(request=PreferencesInputSerializer, responses={200: PreferencesOutputSerializer})
    def put(self, request):
        data = PreferencesInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        skip_preferences_update(user=request.user, modes=data.validated_data["skip"])
        return Response(PreferencesOutputSerializer({"skip": skip_preferences_get(user=request.user)}).data)
