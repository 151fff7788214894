from django.urls import path

from kissweb.training import views

urlpatterns = [
    path("scene-types/", views.scene_type_list_page, name="scene-type-list-page"),
    path("scene-types/<slug:slug>/", views.scene_type_detail_page, name="scene-type-detail-page"),
]
