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
