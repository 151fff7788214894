from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "kissweb.analysis"
    label = "analysis"
    verbose_name = "Analysis pipeline"
