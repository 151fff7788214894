from django.urls import path

from kissweb.library import apis

urlpatterns = [
    path("health/", apis.HealthApi.as_view(), name="health"),
    path("auth/token/", apis.TokenApi.as_view(), name="auth-token"),
    path("movies/", apis.MovieListCreateApi.as_view(), name="movie-list"),
    path("movies/<int:movie_id>/", apis.MovieDetailApi.as_view(), name="movie-detail"),
    path("movies/<int:movie_id>/stream/", apis.MovieStreamApi.as_view(), name="movie-stream"),
    path("movies/<int:movie_id>/poster/", apis.MoviePosterApi.as_view(), name="movie-poster"),
    path("movies/<int:movie_id>/thumbnail/", apis.MovieThumbnailApi.as_view(), name="movie-thumbnail"),
    path("movies/<int:movie_id>/chapters.vtt", apis.MovieChaptersApi.as_view(), name="movie-chapters"),
    path("movies/<int:movie_id>/segments/", apis.MovieSegmentsApi.as_view(), name="movie-segments"),
    path("movies/<int:movie_id>/annotations/", apis.MovieAnnotationsApi.as_view(), name="movie-annotations"),
    path("segments/", apis.SegmentSearchApi.as_view(), name="segment-search"),
    path("segments/<int:segment_id>/", apis.SegmentDetailApi.as_view(), name="segment-detail"),
    path("segments/<int:segment_id>/review/", apis.SegmentReviewApi.as_view(), name="segment-review"),
    path("scene-defaults/", apis.SceneDefaultsApi.as_view(), name="scene-defaults"),
    path("scene-types/", apis.SceneTypeListCreateApi.as_view(), name="scene-type-list"),
    path("scene-types/<slug:slug>/", apis.SceneTypeDetailApi.as_view(), name="scene-type-detail"),
    path("annotations/<int:annotation_id>/", apis.AnnotationDetailApi.as_view(), name="annotation-detail"),
]
