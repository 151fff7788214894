"""pytest-django settings: a throw-away database on whichever server `./kiss` found."""

import os
import tempfile

from kissweb.settings.base import *  # noqa: F403
from kissweb.settings.base import DATABASES

# Several checkouts may test against one server at once; KISSWEB_TEST_DB keeps their databases apart.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("KISSWEB_TEST_DB", "test_kissweb")}
DATABASES["default"]["CONN_MAX_AGE"] = 0
SECRET_KEY = "test-only-key-never-used-outside-tests-0123456789"  # tests/qcluster_settings.py signs with it too
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = __import__("pathlib").Path(tempfile.mkdtemp(prefix="kissweb-test-media-"))
FILE_UPLOAD_TEMP_DIR = None
STATIC_ROOT = MEDIA_ROOT.parent / (MEDIA_ROOT.name + "-static")  # served from the finders in tests; must exist
STATIC_ROOT.mkdir(exist_ok=True)
