"""The one place errors become HTTP responses.

Every error body has the same shape: {"code": ..., "detail": ...}, plus
"errors" (field -> messages) for invalid input and whatever facts the domain
error carries (e.g. "current_version" on a version conflict).

A database that cannot be reached (OperationalError, InterfaceError) is a 503
with Retry-After, not a 500: the outage is the server's and temporary, and the
code says which side is down, so a client knows whether reads or writes still
work (the read and write databases fail independently).
"""

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError, connections
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from commands.errors import DomainError, InvalidCommand
from core.routers import WRITE_DATABASE

DATABASE_ERRORS = (OperationalError, InterfaceError)
# Long enough for a restarting or failing-over database, short enough not to strand a client.
DATABASE_RETRY_AFTER_SECONDS = 5


def exception_handler(exc, context):
    """Turn domain errors and DRF's own errors into the common error body."""
    if isinstance(exc, InvalidCommand):
        return Response({"code": exc.code, "detail": exc.message, "errors": exc.errors}, status=exc.status)
    if isinstance(exc, DomainError):
        return Response({"code": exc.code, "detail": exc.message, **exc.extra}, status=exc.status)
    if isinstance(exc, DATABASE_ERRORS):
        return _database_unavailable(context)
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


def _database_unavailable(context) -> Response:
    side = _failed_side(context.get("view"))
    response = Response(
        {"code": f"{side}_database_unavailable", "detail": f"The {side} database cannot be reached; retry shortly."},
        status=503,
    )
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def _failed_side(view) -> str:
    """Which database failed: "write" or "read".

    The exception does not name its connection, but Django flags the one whose
    call raised (errors_occurred). That is truthful even where a query view
    authenticates a token against the write database. The flag outlives a failed
    connection attempt into later requests, so when both sides (or neither) are
    flagged, the view's side of the API decides.
    """
    sides = {
        "write" if alias == WRITE_DATABASE else "read" for alias in connections if connections[alias].errors_occurred
    }
    if len(sides) == 1:
        return sides.pop()
    return "read" if type(view).__module__.startswith("queries.") else "write"


def not_found(request, exception):
    """handler404: a URL under /api/ that matches nothing gets the common error body, not an HTML page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
