"""What every command endpoint shares: validate input, build the command, dispatch, answer.

A command view only declares its InputSerializer and how to build its command;
permissions beyond "authenticated" are the handlers' business (they raise
Forbidden), so the API, the admin and seed_demo obey the same rules.

With `Prefer: respond-async` (RFC 7240) the same validation runs, then the
command goes to the inbox (commands.inbox) instead of its handler: 202 Accepted,
with its status resource in Location.
"""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.utils import formatting

from commands import inbox
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


class AcceptedSerializer(serializers.Serializer):
    command_id = serializers.UUIDField(help_text="The command's id: its status is at the Location header's URL.")
    status = serializers.ChoiceField(choices=["accepted"])


ASYNC_HEADERS = [
    OpenApiParameter(
        "Prefer",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="`respond-async`: validate now, run later on a worker, answer 202 with the command's status URL.",
    ),
    OpenApiParameter(
        "Location",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[202],
        description="The accepted command's status resource: /api/commands/status/<command_id>/.",
    ),
]

ASYNC_DESCRIPTION = (
    "Send `Prefer: respond-async` to have a worker run the command: it is validated at once "
    "(400/401/403/422 as usual), then answered with 202 Accepted and `Location: "
    "/api/commands/status/<command_id>/`, where its outcome appears."
)


def prefers_async(request) -> bool:
    """Whether the request's Prefer header asks for respond-async (RFC 7240: a list of preferences)."""
    preferences = request.headers.get("Prefer", "").split(",")
    return any(preference.split(";")[0].strip().lower() == "respond-async" for preference in preferences)


def status_url(command_id) -> str:
    return reverse("commands:command-status", kwargs={"command_id": command_id})


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

    def get_view_description(self, html=False):
        """The view's own description, then how to send the command asynchronously (browsable API, OPTIONS)."""
        own = super().get_view_description(html=False)
        description = f"{own}\n\n{ASYNC_DESCRIPTION}" if own else ASYNC_DESCRIPTION
        return formatting.markup_description(description) if html else description

    @extend_schema(
        parameters=ASYNC_HEADERS,
        responses={
            (200, "application/json"): CommandResultSerializer,
            (201, "application/json"): CommandResultSerializer,
            202: OpenApiResponse(AcceptedSerializer, description="Prefer: respond-async: accepted, to run later."),
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
        if prefers_async(request):
            return respond_once(request, lambda: self._accept(request, url_kwargs))
        return respond_once(request, lambda: self._execute(request, url_kwargs))

    def _accept(self, request, url_kwargs) -> Response:
        command = self._validated_command(request, url_kwargs)
        accepted = inbox.accept(command, request.user, idempotency_key=request.headers.get("Idempotency-Key", ""))
        body = {"command_id": str(accepted.command_id), "status": "accepted"}
        headers = {
            "Location": status_url(accepted.command_id),
            "Preference-Applied": "respond-async",
            "X-Correlation-ID": command.correlation,
        }
        return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)

    def _validated_command(self, request, url_kwargs) -> Command:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self.build_command(serializer.validated_data, **url_kwargs)

    def _execute(self, request, url_kwargs) -> Response:
        command = self._validated_command(request, url_kwargs)
        recorded: Recorded = dispatch(command, request.user)
        body = {"id": str(recorded.aggregate_id), "version": recorded.version, "position": recorded.position}
        headers = {"X-Event-Position": str(recorded.position), "X-Correlation-ID": command.correlation}
        return Response(body, status=self.success_status, headers=headers)

    def correlation_id(self) -> str | None:
        """The caller's X-Correlation-ID, if it sent a usable one."""
        value = self.request.headers.get("X-Correlation-ID", "").strip()
        return value[:MAX_CORRELATION_ID_LENGTH] or None
