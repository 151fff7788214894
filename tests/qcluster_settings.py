"""Settings of the `manage.py qcluster` subprocess that tests start (see tests/qcluster.py).

The worker must see the test's database (DATABASE_URL, set by the fixture) and the test's media folder,
which kissweb.settings.test makes per process; KISSWEB_TEST_MEDIA_ROOT carries it across.
"""

import os
from pathlib import Path

from kissweb.settings.base import *  # noqa: F403

MEDIA_ROOT = Path(os.environ["KISSWEB_TEST_MEDIA_ROOT"])
SECRET_KEY = "test-only-key-never-used-outside-tests-0123456789"  # the same as kissweb.settings.test: tasks it signs
FILE_UPLOAD_TEMP_DIR = None
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
