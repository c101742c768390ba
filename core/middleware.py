"""HTTP middleware that guards the whole site."""

from django.conf import settings
from django.http import JsonResponse


class RequestSizeLimitMiddleware:
    """Answer 413 to a request whose declared body exceeds MAX_REQUEST_BYTES, before anything reads it.

    DRF's parsers read the request stream directly, which bypasses Django's own
    DATA_UPLOAD_MAX_MEMORY_SIZE check; a body without Content-Length is never
    read by Django at all, so checking the declared length is enough.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"code": "invalid_content_length", "detail": "Bad Content-Length."}, status=400)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and declared > limit:
            return JsonResponse(
                {"code": "request_too_large", "detail": f"The request body exceeds {limit} bytes."},
                status=413,
            )
        return self.get_response(request)
