from django.apps import AppConfig


class LibraryConfig(AppConfig):
    name = "kissweb.library"
    label = "library"
    verbose_name = "Movie library"
