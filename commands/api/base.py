"""What every command endpoint shares: validate input, build the command, dispatch, answer.

A command view only declares its InputSerializer and how to build its command;
permissions beyond "authenticated" are the handlers' business (they raise
Forbidden), so the API, the admin and seed_demo obey the same rules.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from commands.api.browsable import CommandRenderer
from commands.api.idempotency import respond_once
from commands.commands import Command
from commands.handlers import Recorded, dispatch

MAX_CORRELATION_ID_LENGTH = 100


class CommandResultSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The aggregate's id.")
    version = serializers.IntegerField(help_text="The aggregate's version after the command.")
    position = serializers.IntegerField(
        help_text="Position of the command's last event: send it as X-Min-Position to read your write."
    )


ErrorSerializer = inline_serializer(
    "Error",
    {
        "code": serializers.CharField(help_text="Machine-readable error code."),
        "detail": serializers.CharField(),
        "errors": serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False),
    },
)


class VersionedInput(serializers.Serializer):
    expected_version = serializers.IntegerField(
        min_value=0,
        required=False,
        help_text="Refuse with 409 version_conflict unless the aggregate is at this version.",
    )


class CommandView(GenericAPIView):
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer, CommandRenderer]
    success_status = status.HTTP_200_OK

    class InputSerializer(serializers.Serializer):
        pass

    def get_serializer_class(self):
        return self.InputSerializer

    def build_command(self, data: dict, **url_kwargs) -> Command:
        """Return the command for validated input `data` and the URL's keyword arguments."""
        raise TypeError(f"{type(self).__name__} must define build_command()")

    def example_body(self) -> dict | None:
        """A body the browsable API's raw-data form starts with; None leaves DRF's (the fields' initial values)."""
        return None

    @extend_schema(
        responses={
            (200, "application/json"): CommandResultSerializer,
            (201, "application/json"): CommandResultSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Invalid input, with field errors."),
            401: OpenApiResponse(ErrorSerializer, description="Not authenticated."),
            403: OpenApiResponse(ErrorSerializer, description="Not allowed for this user."),
            404: OpenApiResponse(ErrorSerializer, description="Unknown aggregate."),
            409: OpenApiResponse(ErrorSerializer, description="Business rule or version conflict."),
            413: OpenApiResponse(ErrorSerializer, description="Request body too large."),
            422: OpenApiResponse(ErrorSerializer, description="Idempotency-Key reused with another body."),
        },
    )
    def post(self, request, **url_kwargs):
        return respond_once(request, lambda: self._execute(request, url_kwargs))

    def _execute(self, request, url_kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        command = self.build_command(serializer.validated_data, **url_kwargs)
        recorded: Recorded = dispatch(command, request.user)
        body = {"id": str(recorded.aggregate_id), "version": recorded.version, "position": recorded.position}
        headers = {"X-Event-Position": str(recorded.position), "X-Correlation-ID": command.correlation}
        return Response(body, status=self.success_status, headers=headers)

    def correlation_id(self) -> str | None:
        """The caller's X-Correlation-ID, if it sent a usable one."""
        value = self.request.headers.get("X-Correlation-ID", "").strip()
        return value[:MAX_CORRELATION_ID_LENGTH] or None
