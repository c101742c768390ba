"""The Customer aggregate: a shopper, linked one-to-one to a Django user."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Customer(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="customer")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    version = models.PositiveIntegerField(default=0)
    # Set by the handler from the command's time (see commands.handlers), which only seed_demo backdates.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"
