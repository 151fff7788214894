"""The page-number pagination of DRF's generic lists, with pages numbered from 1 in the schema and in the answers:
page=0 or a negative page is a 400 saying so (DRF answers 404 "Invalid page." for what the schema allowed)."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination

from kissweb import errors

PAGE_FROM_1 = "Pages are numbered from 1."


class PagesFromOne(PageNumberPagination):
    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param) or 1
        try:
            if raw not in self.last_page_strings and int(raw) < 1:
                raise errors.Invalid(PAGE_FROM_1, code="invalid_page", fields={"page": PAGE_FROM_1})
        except (TypeError, ValueError):
            pass  # not a number: DRF's 404 "Invalid page."
        return super().get_page_number(request, paginator)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {**parameter["schema"], "minimum": 1}
                parameter["description"] = PAGE_FROM_1
        return parameters
