from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file, which the CSP allows (the plain view inlines it).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("kissweb.library.urls")),
    path("api/", include("kissweb.analysis.urls")),
    path("api/", include("kissweb.training.urls")),
    path("api/", include("kissweb.jobs.urls")),
    path("api/", include("kissweb.exports.urls")),
    path("", include("kissweb.web.urls")),
    path("", include("kissweb.training.page_urls")),
]

# Outside DRF views (an unknown /api/ path, a crash in middleware) errors under /api/ are JSON too.
handler400 = "kissweb.errors.handler400"
handler404 = "kissweb.errors.handler404"
handler500 = "kissweb.errors.handler500"
