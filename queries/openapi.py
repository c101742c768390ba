"""The OpenAPI description every query endpoint shares: the consistency parameters and headers, and errors."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view

from queries.caching import CACHE_STATUS_HEADER
from queries.consistency import MAX_POSITION, MIN_POSITION_HEADER, MIN_POSITION_PARAMETER, READ_POSITION_HEADER
from queries.serializers import QueryErrorSerializer

POSITION = {"type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_POSITION}

MIN_POSITION = [
    OpenApiParameter(
        MIN_POSITION_HEADER,
        POSITION,
        OpenApiParameter.HEADER,
        description="Read your writes: answer only with data that includes every event up to this position "
        "(a command's X-Event-Position). The request waits briefly for the projection, then answers 503.",
    ),
    OpenApiParameter(
        MIN_POSITION_PARAMETER,
        POSITION,
        OpenApiParameter.QUERY,
        description=f"The same as the {MIN_POSITION_HEADER} header; if both are given, the larger counts.",
    ),
]

RESPONSE_HEADERS = [
    OpenApiParameter(
        READ_POSITION_HEADER,
        POSITION,
        OpenApiParameter.HEADER,
        response=[200, 401, 403, 404, 429, 503],
        description="The event position the data includes (on a 503: how far it has got; on a 401, 403 or 429: "
        "the position the request would have read at).",
    ),
    OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[429, 503],
        description="Seconds to wait before retrying.",
    ),
]

CACHE_STATUS = OpenApiParameter(
    CACHE_STATUS_HEADER,
    str,
    OpenApiParameter.HEADER,
    enum=["hit", "miss"],
    response=[200],
    description="Whether the response came from the response cache.",
)

ERRORS = {
    400: "A malformed parameter (filter, page, cursor, min_position): `invalid`, with the messages in `errors`.",
    401: "Not authenticated, or bad credentials.",
    403: "Staff only.",
    404: "No such row, or one you may not see; or a page past the end.",
    429: "Too many requests: `throttled`; see Retry-After.",
    503: "`projection_behind`: the data has not reached the requested min position in time; see Retry-After.",
}


def _responses(serializer, codes) -> dict:
    return {
        200: serializer,
        **{code: OpenApiResponse(QueryErrorSerializer, description=ERRORS[code]) for code in codes},
    }


def query_schema(
    serializer, *, detail_serializer=None, lookup=None, staff_only=False, cached=False, list_errors=(400, 404)
):
    """Document a read-only viewset's `list` and `retrieve`, with the parameters and headers every query has.

    `lookup` describes the detail's path parameter where it cannot be told from a model field.
    """
    common = (401, 403, 429, 503) if staff_only else (401, 429, 503)
    headers = [*RESPONSE_HEADERS, CACHE_STATUS] if cached else RESPONSE_HEADERS
    return extend_schema_view(
        list=extend_schema(
            parameters=[*MIN_POSITION, *headers],
            responses=_responses(serializer, sorted({*list_errors, *common})),
        ),
        retrieve=extend_schema(
            parameters=[*MIN_POSITION, *RESPONSE_HEADERS, *([lookup] if lookup else [])],
            responses=_responses(detail_serializer or serializer, sorted({400, 404, *common})),
        ),
    )


STREAM_PATH = "/api/queries/stream/"
STREAM_DESCRIPTION = """Server-sent events (text/event-stream): the read models' changes the caller may see, live.

Each message is `event: <topic>`, `id: <log position>`, `data: <JSON>`:

- `product` (everyone): the product's detail (as GET /api/queries/products/{id}/) after the change;
- `order` (customers: their own orders; staff: all): the order's detail after the change;
- `projection` (staff): a follower's status (as GET /api/queries/projections/{name}/); no `id`,
  since a status is not in the event log. Every status is sent first on (re)connecting.

The data is computed from the event log at that position, so it may be ahead of the read models:
send the `id` as X-Min-Position to read the same state from the detail endpoint. Reconnect with
`Last-Event-ID` (or `?last_event_id=`) set to the last `id` heard to receive every change after it,
then live ones. A comment heartbeat (`: heartbeat`, with an `id` past what was read) comes every
STREAM_HEARTBEAT_SECONDS (15 s). Authentication: a token, or the session cookie (a browser's
EventSource cannot set headers, so a page of the shop uses the cookie it signed in with).
Served by the ASGI server only (scripts/serve): under WSGI it answers 503 stream_needs_asgi."""


def document_the_stream(result, generator, request, public):
    """Postprocessing hook: GET /api/queries/stream/, an async Django view drf-spectacular cannot see."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/QueryError"}}}
    position = {"type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_POSITION}
    result["paths"][STREAM_PATH] = {
        "get": {
            "operationId": "queries_stream",
            "summary": "Live changes to the read models (server-sent events)",
            "description": STREAM_DESCRIPTION,
            "tags": ["queries"],
            "security": [{"tokenAuth": []}, {"cookieAuth": []}, {}],
            "parameters": [
                {
                    "in": "query",
                    "name": "topics",
                    "schema": {"type": "string"},
                    "description": "Comma-separated, among order, product, projection: narrows the topics the "
                    "caller may hear (by default all of them). An unknown topic is a 400; one out of reach "
                    "a 401 (anonymous) or 403.",
                },
                {
                    "in": "query",
                    "name": "last_event_id",
                    "schema": position,
                    "description": "Resume after this log position (as the Last-Event-ID header, which wins). "
                    "400 if malformed or beyond the head of the log.",
                },
                {
                    "in": "header",
                    "name": "Last-Event-ID",
                    "schema": position,
                    "description": "Resume after this log position: a reconnecting EventSource sends it.",
                },
            ],
            "responses": {
                "200": {
                    "description": "The stream, open until the client closes it.",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    "headers": {
                        "Cache-Control": {"schema": {"type": "string", "enum": ["no-cache"]}},
                        "X-Accel-Buffering": {
                            "schema": {"type": "string", "enum": ["no"]},
                            "description": "Tells a proxy (nginx) not to buffer the events.",
                        },
                    },
                },
                "400": {
                    "description": "`unknown_topic`, `invalid_last_event_id`, or `unknown_position` (beyond the head).",
                    "content": error,
                },
                "401": {"description": "A topic needs a signed-in user, or the token is wrong.", "content": error},
                "403": {"description": "A topic only staff may hear.", "content": error},
                "503": {"description": "Served by a WSGI server, which cannot hold streams.", "content": error},
            },
        }
    }
    return result
