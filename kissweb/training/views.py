"""Thin page views of the scene-type pages; their data comes from the API in the browser."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from kissweb.training.selectors import scene_type_page_get


@login_required
def scene_type_list_page(request):
    return render(request, "scene_types/list.html", {"page": "scene_types"})


@login_required
def scene_type_detail_page(request, slug: str):
    scene_type = scene_type_page_get(slug=slug)
    return render(request, "scene_types/detail.html", {"page": "scene_types", "scene_type": scene_type})
