"""The API's JSON parser: DRF's, with a bound on size and nesting.

DRF reads the body straight from the socket, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE
check, and Python's json module gives up on deep nesting with a RecursionError that
DRF does not turn into a 400. Both are refused here as the bad requests they are."""

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from .errors import RequestTooLarge


def body_limit() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = body_limit()
        if request is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                raise ParseError("Invalid Content-Length.") from None
            if declared > limit:
                raise RequestTooLarge(f"The request body is larger than {limit} bytes.")
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
