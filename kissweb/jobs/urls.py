from django.urls import path

from kissweb.jobs import apis

urlpatterns = [
    path("runs/<int:job_id>/", apis.RunDetailApi.as_view(), name="run-detail"),
    path("runs/<int:job_id>/cancel/", apis.RunCancelApi.as_view(), name="run-cancel"),
]
