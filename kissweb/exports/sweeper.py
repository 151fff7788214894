"""The exports' housekeeping, done by the one sweeper of kissweb.jobs on each round (ExportRunner.sweep): expired
exports go (rows, and their files after the commit), and so do the render folders of workers killed mid-render and
files no export or playable copy names."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kissweb.exports.models import Export, PlayableCopy
from kissweb.exports.playable import PLAYABLE_DIR
from kissweb.exports.services import EXPORTS_DIR

log = logging.getLogger(__name__)

# A render folder untouched this long belongs to a worker that was killed mid-render.
ABANDONED_RENDER_S = 3600


def export_sweep() -> dict:
    """Remove expired exports (rows and files), render folders of killed workers, and files no row names."""
    now = timezone.now()
    expired = list(Export.objects.filter(expires_at__lt=now).values_list("pk", flat=True))
    for pk in expired:
        with transaction.atomic():
            Export.objects.filter(pk=pk).delete()  # the file goes by the post_delete signal, after the commit
    abandoned, orphans = [], []
    for subdir, rows in ((EXPORTS_DIR, Export.objects), (PLAYABLE_DIR, PlayableCopy.objects)):
        folder = Path(settings.MEDIA_ROOT) / subdir
        if not folder.is_dir():
            continue
        known = set(rows.exclude(file="").values_list("file", flat=True))
        for path in folder.iterdir():
            age = time.time() - _newest_mtime(path)
            if path.is_dir() and path.name.startswith(".render-") and age > ABANDONED_RENDER_S:
                shutil.rmtree(path, ignore_errors=True)
                abandoned.append(path.name)
            elif path.is_file() and f"{subdir}/{path.name}" not in known and age > ABANDONED_RENDER_S:
                path.unlink(missing_ok=True)
                orphans.append(path.name)
    if expired or abandoned or orphans:
        log.info("export sweeper: %s expired, %s abandoned renders, %s orphan files removed", len(expired),
                 len(abandoned), len(orphans))
    return {"expired": expired, "abandoned": abandoned, "orphans": orphans}


def _newest_mtime(path: Path) -> float:
    try:
        if path.is_dir():
            return max([p.stat().st_mtime for p in path.rglob("*")] + [path.stat().st_mtime])
        return path.stat().st_mtime
    except OSError:
        return time.time()
