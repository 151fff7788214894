"""Thin page views: the pages are templates; their data comes from the API in the browser."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from kissweb.web.selectors import movie_page_get


@login_required
def library_page(request):
    return render(request, "library.html", {"page": "library"})


@login_required
def upload_page(request):
    return render(request, "upload.html", {"page": "upload"})


@login_required
def scenes_page(request):
    return render(request, "scenes.html", {"page": "scenes"})


@login_required
def movie_page(request, movie_id: int):
    movie = movie_page_get(movie_id=movie_id)
    return render(request, "movie.html", {"page": "movie", "movie": movie})
