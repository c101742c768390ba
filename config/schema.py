"""The OpenAPI schema generator: names serializer components after where they are defined.

Every command view nests its own `InputSerializer`; named by class name alone,
they would all collapse into one "Input" component and the schema would be wrong.
"""

from drf_spectacular.openapi import AutoSchema


class QualifiedNameAutoSchema(AutoSchema):
    def get_serializer_name(self, serializer, direction) -> str:
        """Name it after its qualified name: PlaceOrderView.InputSerializer -> PlaceOrderViewInput."""
        parts = type(serializer).__qualname__.split(".")
        return "".join(part.removesuffix("Serializer") for part in parts if part != "<locals>")
