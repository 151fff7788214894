from django.urls import path

from kissweb.training import apis

urlpatterns = [
    path("scene-types/<slug:slug>/train/", apis.TrainApi.as_view(), name="scene-type-train"),
    path("scene-types/<slug:slug>/training-runs/", apis.TrainingRunListApi.as_view(), name="scene-type-training-runs"),
    path("scene-types/<slug:slug>/suggestions/", apis.SuggestionListApi.as_view(), name="scene-type-suggestions"),
    path(
        "scene-types/<slug:slug>/published-model/", apis.PublishedModelFetchApi.as_view(),
        name="scene-type-published-model",
    ),
    path("scene-types/<slug:slug>/quality/", apis.QualityApi.as_view(), name="scene-type-quality"),
    path("scene-types/<slug:slug>/stats/", apis.StatsApi.as_view(), name="scene-type-stats"),
    path("scene-types/<slug:slug>/import-reference/", apis.ReferenceImportApi.as_view(), name="scene-type-import-reference"),
    path("training-runs/<int:run_id>/", apis.TrainingRunDetailApi.as_view(), name="training-run-detail"),
    path("models/<int:model_id>/download/", apis.ModelDownloadApi.as_view(), name="model-download"),
]
