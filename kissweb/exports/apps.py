from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "kissweb.exports"
    label = "exports"
    verbose_name = "Exports: clips, supercuts, contact sheets"

    def ready(self):
        from kissweb.exports import runners, signals  # noqa: F401 - the worker must know the kind; file cleanup
