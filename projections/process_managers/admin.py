"""The process managers' tables in the admin, read-only: payment deadlines, stock levels, issued commands."""

from django.contrib import admin

from core.admin import ReadOnlyAdmin
from projections.models import PaymentDeadline, StockLevel
from projections.process_managers.models import IssuedCommand


@admin.register(PaymentDeadline)
class PaymentDeadlineAdmin(ReadOnlyAdmin):
    list_display = ["order_id", "due_at", "state", "detail", "fired_at"]
    list_filter = ["state"]
    search_fields = ["order_id"]
    date_hierarchy = "due_at"


@admin.register(StockLevel)
class StockLevelAdmin(ReadOnlyAdmin):
    list_display = ["sku", "name", "stock", "alerted"]
    list_filter = ["alerted"]
    search_fields = ["sku", "name"]


@admin.register(IssuedCommand)
class IssuedCommandAdmin(ReadOnlyAdmin):
    list_display = ["issued_at", "issued_by", "command", "trigger_position", "outcome", "position", "refusal"]
    list_filter = ["issued_by", "outcome", "command"]
    search_fields = ["command_id"]
