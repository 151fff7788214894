from django.apps import AppConfig
from django.db.backends.signals import connection_created


class LibraryConfig(AppConfig):
    name = "kissweb.library"
    label = "library"
    verbose_name = "Movie library"

    def ready(self) -> None:
        from kissweb.library.prepared import use_generic_plans

        connection_created.connect(use_generic_plans, dispatch_uid="kissweb_generic_plans")
        from kissweb.library import runners  # noqa: F401 - the worker must know the url_download kind
