"""When an export row goes (deleted by its owner, expired, or with its film by cascade), its file goes after the
commit and its run stops: a queued run is cancelled at once, a running one at its next progress report (it would
otherwise render on to its end and only then find its export gone). A film's playable copy goes with the film."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from kissweb.exports.models import Export, PlayableCopy
from kissweb.jobs.models import ACTIVE_RUN_STATUSES, Run
from kissweb.jobs.runner import run_cancel


@receiver(post_delete, sender=Export, dispatch_uid="kissweb.exports.remove_file")
def _remove_file(sender, instance: Export, **kwargs):  # noqa: ARG001
    if instance.file:
        path = Path(settings.MEDIA_ROOT) / instance.file
        transaction.on_commit(lambda: path.unlink(missing_ok=True))


@receiver(post_delete, sender=Export, dispatch_uid="kissweb.exports.stop_runs")
def _stop_runs(sender, instance: Export, **kwargs):  # noqa: ARG001
    with transaction.atomic():
        for run in Run.objects.filter(subject_type="export", subject_id=instance.pk, status__in=ACTIVE_RUN_STATUSES):
            run_cancel(run=run)


@receiver(post_delete, sender=PlayableCopy, dispatch_uid="kissweb.exports.remove_playable_copy")
def _remove_playable_copy(sender, instance: PlayableCopy, **kwargs):  # noqa: ARG001
    if instance.file:
        path = Path(settings.MEDIA_ROOT) / instance.file
        transaction.on_commit(lambda: path.unlink(missing_ok=True))
