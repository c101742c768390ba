"""Customer command endpoints: a signed-in user registers themself as a customer."""

from rest_framework import serializers, status

from commands.api.base import CommandView
from commands.commands import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, RegisterCustomer


class RegisterCustomerView(CommandView):
    """Register yourself as a customer, which lets you place orders."""

    success_status = status.HTTP_201_CREATED

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(
            max_length=MAX_NAME_LENGTH, required=False, help_text="Defaults to the user's name."
        )
        email = serializers.EmailField(
            max_length=MAX_EMAIL_LENGTH, required=False, help_text="Defaults to the user's e-mail."
        )

    def build_command(self, data):
        user = self.request.user
        return RegisterCustomer(
            user_id=user.pk,
            name=data.get("name") or user.get_full_name() or user.get_username(),
            email=data.get("email") or user.email,
            correlation_id=self.correlation_id(),
        )
