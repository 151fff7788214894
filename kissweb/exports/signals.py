"""An export's file goes when its row goes (a deleted film takes its exports with it, by cascade)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from kissweb.exports.models import Export


@receiver(post_delete, sender=Export, dispatch_uid="kissweb.exports.remove_file")
def _remove_file(sender, instance: Export, **kwargs):  # noqa: ARG001
    if instance.file:
        path = Path(settings.MEDIA_ROOT) / instance.file
        transaction.on_commit(lambda: path.unlink(missing_ok=True))
