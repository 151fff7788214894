"""The detector's errors. Each message says what went wrong and where, so a person can act on it."""

from __future__ import annotations


class DetectorError(Exception):
    """Base class of every error the detector raises on purpose."""


class DecodeError(DetectorError):
    """A media file cannot be read: not a video, no video stream, zero duration, corrupt, truncated or stalled."""


class MissingWeightsError(DetectorError):
    """Pretrained weight files for a backbone set are absent or do not match their SHA-256."""


class ModelFileError(DetectorError):
    """A scene model file is missing, unreadable, unsafe (pickle) or does not fit the features."""


class DownloadError(DetectorError):
    """A download (the published model) failed: no internet, a refusing host, a wrong checksum. The message says how
    to get the file by hand."""
