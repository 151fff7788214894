from django.urls import path

from kissweb.exports import apis

urlpatterns = [
    path("segments/<int:segment_id>/export/", apis.SegmentExportApi.as_view(), name="segment-export"),
    path("movies/<int:movie_id>/exports/", apis.MovieExportApi.as_view(), name="movie-exports"),
    path("movies/<int:movie_id>/playable-copy/", apis.MoviePlayableCopyApi.as_view(), name="movie-playable-copy"),
    path("movies/<int:movie_id>/playback/", apis.MoviePlaybackApi.as_view(), name="movie-playback"),
    path("exports/", apis.ExportListCreateApi.as_view(), name="export-list"),
    path("exports/<int:export_id>/", apis.ExportDetailApi.as_view(), name="export-detail"),
    path("exports/<int:export_id>/download/", apis.ExportDownloadApi.as_view(), name="export-download"),
]
