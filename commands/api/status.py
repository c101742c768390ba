"""The status resource of an asynchronous command: accepted, then succeeded, refused or failed."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import RetrieveAPIView
from rest_framework.permissions import IsAuthenticated

from commands.api.base import CommandResultSerializer, ErrorSerializer
from commands.models import InboxCommand
from core.routers import WRITE_DATABASE


class RefusalSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable error code, as a synchronous 4xx carries.")
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


@extend_schema_field(RefusalSerializer)
class ErrorBodyField(serializers.JSONField):
    """The stored error body as it is: a refusal carries its error's facts too (e.g. current_version)."""


class CommandStatusSerializer(serializers.ModelSerializer):
    status = serializers.CharField(source="state", help_text="accepted, succeeded, refused or failed.")
    type = serializers.CharField(help_text="The command's name, e.g. PlaceOrder.")
    result = CommandResultSerializer(read_only=True, required=False, help_text="Succeeded: what the command did.")
    error = ErrorBodyField(read_only=True, help_text="Refused or failed: why.")

    class Meta:
        model = InboxCommand
        fields = ["command_id", "type", "status", "accepted_at", "finished_at", "result", "error"]

    def to_representation(self, instance):
        body = super().to_representation(instance)
        return {name: value for name, value in body.items() if value is not None or name == "finished_at"}


class CommandStatusView(RetrieveAPIView):
    """Where a command sent with `Prefer: respond-async` stands.

    `status` is `accepted` until a worker has run it, then `succeeded` (with
    `result`: the aggregate's `id`, `version` and the `position` of its last
    event, as a synchronous command answers), `refused` (with `error`: the
    `code` and `detail` a synchronous 4xx carries) or `failed` (an unexpected
    error; staff may retry it from the admin). Visible to whoever sent the
    command, and to staff.
    """

    permission_classes = [IsAuthenticated]
    serializer_class = CommandStatusSerializer
    lookup_field = "command_id"

    def get_queryset(self):
        commands = InboxCommand.objects.using(WRITE_DATABASE)
        # Someone else's command is reported as missing, so ids cannot be probed.
        return commands if self.request.user.is_staff else commands.filter(actor=self.request.user)

    @extend_schema(
        responses={
            200: OpenApiResponse(
                CommandStatusSerializer,
                description="The command's status; `result` when succeeded, `error` when refused or failed.",
            ),
            404: OpenApiResponse(ErrorSerializer, description="No such command of yours."),
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
