from django.urls import path

from kissweb.library import apis

urlpatterns = [
    path("health/", apis.HealthApi.as_view(), name="health"),
]
