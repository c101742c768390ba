"""The OpenAPI schema generator: names serializer components after where they are defined.

Every command view nests its own `InputSerializer`; named by class name alone,
they would all collapse into one "Input" component and the schema would be wrong.
Command operations also get the headers every command shares (the query
side documents its own in queries/openapi.py).
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

COMMAND_HEADERS = [
    OpenApiParameter(
        "Idempotency-Key",
        str,
        OpenApiParameter.HEADER,
        description="Up to 255 characters. A retried command with the same key and body returns the first "
        "response (marked Idempotent-Replayed) without a second effect; another body answers 422.",
    ),
    OpenApiParameter(
        "X-Correlation-ID",
        str,
        OpenApiParameter.HEADER,
        description="Carried into the events' metadata (up to 100 characters); defaults to the command id.",
    ),
    OpenApiParameter(
        "X-Event-Position",
        {"type": "integer", "format": "int64", "minimum": 1},
        OpenApiParameter.HEADER,
        response=[200, 201],
        description="The position of the command's last event: send it as X-Min-Position to read your write.",
    ),
]


class QualifiedNameAutoSchema(AutoSchema):
    def get_override_parameters(self):
        from commands.api.base import CommandView  # the command views, once the apps are loaded

        parameters = super().get_override_parameters()
        return [*parameters, *COMMAND_HEADERS] if isinstance(self.view, CommandView) else parameters

    def get_serializer_name(self, serializer, direction) -> str:
        """Name it after its qualified name: PlaceOrderView.InputSerializer -> PlaceOrderViewInput."""
        parts = type(serializer).__qualname__.split(".")
        return "".join(part.removesuffix("Serializer") for part in parts if part != "<locals>")


def document_command_errors(result, generator, request, public):
    """Postprocessing hook: the command side's error bodies and refusals as they really are.

    A list of objects (an order's lines) reports its errors per item and field,
    nested: {"lines": {"0": {"quantity": [...]}}}, not only a list of messages.
    And a body in a media type the parsers do not read is refused with 415.
    """
    schemas = result["components"]["schemas"]
    schemas["FieldErrors"] = {
        "type": "object",
        "description": "Messages per field; for a list or nested object, per item index or sub-field, nested.",
        "additionalProperties": {
            "oneOf": [
                {"type": "array", "items": {"type": "string"}},
                {"$ref": "#/components/schemas/FieldErrors"},
            ]
        },
    }
    if "Error" in schemas:
        schemas["Error"]["properties"]["errors"] = {"$ref": "#/components/schemas/FieldErrors"}
    for path, operations in result["paths"].items():
        if path.startswith("/api/commands/"):
            for operation in operations.values():
                operation["responses"].setdefault(
                    "415",
                    {
                        "description": "The body is in a media type the API does not read.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
    return result
