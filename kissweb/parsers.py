"""The multipart parser of every upload endpoint: Django's, with clear refusals where Django's is silent.

- A file whose name is nothing once cleaned (".", "..", "../") is refused by name. Django skips such a part
  without reading its body, so the bytes of the file were parsed as the next part's headers ("Request max total
  header size exceeded") or the upload had "no file".
- A second file under one field name is refused (Django keeps both, and a view reading one field gets the last).
"""

from __future__ import annotations

from django.conf import settings
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from kissweb import errors


def bad_file_name(raw_name: str) -> errors.Invalid:
    message = (f"The file name {raw_name!r} is not a usable name (it names a folder, not a file); rename the file, "
               "e.g. to movie.mp4, and upload it again.")
    return errors.Invalid(message, code="bad_file_name", fields={"file": message})


def second_file(field_name: str) -> errors.Invalid:
    message = f"This request has more than one file in the field '{field_name}'; send one file per upload."
    return errors.Invalid(message, code="several_files", fields={field_name: message})


class _StrictDjangoMultiPartParser(DjangoMultiPartParser):
    def sanitize_file_name(self, file_name):
        cleaned = super().sanitize_file_name(file_name)
        if not cleaned:
            raise bad_file_name(file_name)
        return cleaned

    def handle_file_complete(self, old_field_name, counters):
        if old_field_name and old_field_name in self._files:
            raise second_file(old_field_name)
        return super().handle_file_complete(old_field_name, counters)


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser on the strict Django parser above."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            data, files = _StrictDjangoMultiPartParser(meta, stream, request.upload_handlers, encoding).parse()
        except MultiPartParserError as exc:
            raise ParseError(f"The multipart body could not be read ({exc}); send it as a normal form upload.") from exc
        return parsers.DataAndFiles(data, files)
