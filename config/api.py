"""The one place errors become HTTP responses.

Every error body has the same shape: {"code": ..., "detail": ...}, plus
"errors" (field -> messages) for invalid input and whatever facts the domain
error carries (e.g. "current_version" on a version conflict).
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, parsers
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from commands.errors import DomainError, InvalidCommand


def exception_handler(exc, context):
    """Turn domain errors and DRF's own errors into the common error body."""
    if isinstance(exc, InvalidCommand):
        return Response({"code": exc.code, "detail": exc.message, "errors": exc.errors}, status=exc.status)
    if isinstance(exc, DomainError):
        return Response({"code": exc.code, "detail": exc.message, **exc.extra}, status=exc.status)
    # DRF converts Django's own errors (get_object_or_404, PermissionDenied) only
    # inside its handler, so they would miss the code below: convert them first.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {api_settings.NON_FIELD_ERRORS_KEY: exc.detail}
        response.data = {"code": "invalid", "detail": "The input is invalid.", "errors": errors}
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = {
            "code": codes if isinstance(codes, str) else exc.default_code,
            "detail": exc.detail,
        }
    return response


def not_found(request, exception):
    """handler404: a URL under /api/ that matches nothing gets the common error body, not an HTML page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, except that a body nested too deeply to decode is a parse error.

    Python's decoder raises RecursionError, not ValueError, past ~1,000 levels,
    which DRF lets through as a 500; a few kilobytes of "[" are enough.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - the document is nested too deeply.") from None
