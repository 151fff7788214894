from django.contrib.auth import views as auth_views
from django.urls import path

from kissweb.web import apis, views

app_name = "web"

urlpatterns = [
    path("", views.library_page, name="library"),
    path("upload/", views.upload_page, name="upload"),
    path("scenes/", views.scenes_page, name="scenes"),
    path("movies/<int:movie_id>/", views.movie_page, name="movie"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/me/preferences/", apis.PreferencesApi.as_view(), name="preferences"),
]
