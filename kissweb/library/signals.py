"""What the library tells the layers above it, so that follow-up work starts there and the library imports none of it
(docs/architecture.md). Both are sent inside the transaction that made the change: a receiver's error rolls it back,
and work a receiver queues on commit is queued only if the change is kept."""

from __future__ import annotations

from django.dispatch import Signal

# A movie's file was stored and checked (an upload, or a download from a URL finished): kwargs movie, user.
# kissweb.analysis queues its analysis.
movie_file_stored = Signal()

# A scene type's aggregation settings (cut, min_frames, threshold) changed: kwargs scene_type, user.
# kissweb.analysis re-derives its detected segments from the stored scores.
scene_type_settings_saved = Signal()
