"""/api/: the browsable API's front door, listing both sides of the shop and where the docs are.

It lives in the composition root because it is the one page that knows both
apps' endpoints (each app's own index, /api/commands/ and /api/queries/, knows
only its own).
"""

from django.urls import reverse as url_of
from rest_framework.response import Response
from rest_framework.reverse import reverse

from commands.api.urls import command_patterns
from core.api_index import EndpointIndexView, endpoint_urls
from queries.urls import query_patterns


class ApiRootView(EndpointIndexView):
    """Commands change the shop (POST), queries read it (GET).

    A command answers with the position of its last event; send it as the
    X-Min-Position header to a query to read your own write.
    """

    name = "Shopfront API"

    def get(self, request):
        def link(url_name):
            return reverse(url_name, request=request)

        return Response(
            {
                "commands": link("commands:api-root"),
                "queries": link("queries:api-root"),
                "docs": link("docs"),
                "schema": link("schema"),
                "token": link("obtain-token"),
                "command_endpoints": endpoint_urls(request, command_patterns, url_of("commands:api-root")),
                "query_endpoints": endpoint_urls(request, query_patterns, url_of("queries:api-root")),
            }
        )
