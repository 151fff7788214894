from django.contrib import admin

from kissweb.jobs.models import Run


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "subject_type", "subject_id", "status", "attempts", "progress", "stage",
                    "heartbeat_at", "finished_at")
    list_filter = ("status", "kind")
    raw_id_fields = ("requested_by",)
