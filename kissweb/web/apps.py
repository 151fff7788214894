from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "kissweb.web"
    label = "web"
    verbose_name = "Browser app"
