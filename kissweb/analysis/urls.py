from django.urls import path

from kissweb.analysis import apis

urlpatterns = [
    path("movies/<int:movie_id>/analyze/", apis.MovieAnalyzeApi.as_view(), name="movie-analyze"),
    path("movies/<int:movie_id>/analyses/", apis.MovieAnalysisListApi.as_view(), name="movie-analyses"),
    path("movies/<int:movie_id>/scores/", apis.MovieScoresApi.as_view(), name="movie-scores"),
    path("analyses/<int:analysis_id>/", apis.AnalysisDetailApi.as_view(), name="analysis-detail"),
    path("scene-types/<slug:slug>/models/", apis.SceneTypeModelUploadApi.as_view(), name="scene-type-models"),
    path("models/", apis.ModelVersionListApi.as_view(), name="model-list"),
    path("models/<int:model_id>/", apis.ModelVersionDetailApi.as_view(), name="model-detail"),
    path(
        "models/<int:model_id>/activation-cost/", apis.ModelVersionActivationCostApi.as_view(),
        name="model-activation-cost",
    ),
    path("models/<int:model_id>/activate/", apis.ModelVersionActivateApi.as_view(), name="model-activate"),
    path("embeddings/cleanup/", apis.EmbeddingsCleanupApi.as_view(), name="embeddings-cleanup"),
]
