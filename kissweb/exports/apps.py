from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "kissweb.exports"
    label = "exports"
    verbose_name = "Exports: clips, supercuts, contact sheets, playable copies"

    def ready(self):
        # The worker must know the kinds; files and runs go with their rows; a stored film gets its playable copy.
        from kissweb.exports import receivers, runners, signals  # noqa: F401
