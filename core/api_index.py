"""The browsable API's index pages: each lists the endpoints under it, so a newcomer can click their way in.

An index knows nothing of the apps: it is given URL patterns (an app's urls
module hands over its own) and lists each named one as an absolute URL. A path
parameter stays a URI template, `{product_id}`, as GitHub's API root shows its
own: there is no one id to link to.
"""

import re

from django.contrib.admindocs.views import simplify_regex
from django.urls import URLPattern
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

INDEX_URL_NAME = "api-root"  # DRF's DefaultRouter calls its index this too
_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")  # <uuid:product_id> and <id> alike


def endpoint_urls(request, patterns, base: str) -> dict[str, str]:
    """Return {URL name: absolute URL} for the named `patterns` mounted at path `base`, index pages left out."""
    # The braces are added after build_absolute_uri(), which would percent-encode them.
    root = request.build_absolute_uri(base).rstrip("/")
    urls = {}
    for pattern in patterns:
        if isinstance(pattern, URLPattern) and pattern.name and pattern.name != INDEX_URL_NAME:
            urls[pattern.name] = root + _PARAMETER.sub(r"{\1}", simplify_regex(str(pattern.pattern)))
    return urls


class EndpointIndexView(APIView):
    """Lists the endpoints of one part of the API (the page's `name` says which), each with its URL."""

    permission_classes = [AllowAny]  # links only: what each endpoint allows is its own business
    schema = None  # a page for people, not an operation of the API
    name = None  # the page's title and breadcrumb, given in as_view(name=...)
    patterns = ()

    def get(self, request):
        return Response(endpoint_urls(request, self.patterns, request.path))
