"""Products, customers and orders in the admin, read-only, with the commands operators may run as actions."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import transaction
from django.template.response import TemplateResponse

from commands import audit
from commands.commands import (
    MAX_QUANTITY,
    CancelOrder,
    Command,
    DiscontinueProduct,
    PayOrder,
    RestockProduct,
    ShipOrder,
)
from commands.errors import DomainError, InvalidCommand
from commands.handlers import dispatch
from commands.models import Customer, OperatorAction, Order, OrderLine, OrderStatus, Product
from core.admin import ReadOnlyAdmin, UUIDSearchMixin, stream_link
from core.routers import WRITE_DATABASE

Outcome = OperatorAction.Outcome

# --- Commands as admin actions ----------------------------------------------------


class CommandActionsMixin:
    """Run a command for each selected row, audited, with one message per row."""

    command_permission: tuple[str, ...] = ()  # any one of these lets an operator run the actions

    def has_command_permission(self, request) -> bool:
        return any(request.user.has_perm(permission) for permission in self.command_permission)

    def dispatch_each(self, request, queryset, *, action: str, command_for: Callable[..., Command], done: str):
        for aggregate in queryset:
            label = f"{self.opts.verbose_name.capitalize()} {self.row_label(aggregate)}"
            target = f"{self.opts.model_name} {aggregate.pk}"
            command_id = uuid.uuid4()
            try:
                command = command_for(aggregate, command_id=command_id)
                # The audit row commits with the command's events, or not at all.
                with transaction.atomic(using=WRITE_DATABASE):
                    audit.record(
                        actor=request.user, action=action, target=target, outcome=Outcome.DONE, command_id=command_id
                    )
                    recorded = dispatch(command, request.user)
            except DomainError as refusal:
                reason = _reason(refusal)
                audit.record(
                    actor=request.user,
                    action=action,
                    target=target,
                    outcome=Outcome.REFUSED,
                    detail=reason,
                    command_id=command_id,
                )
                self.message_user(request, f"{label}: refused, {reason}", messages.ERROR)
            else:
                message = f"{label}: {done} (version {recorded.version}, event #{recorded.position})."
                self.message_user(request, message, messages.SUCCESS)

    def row_label(self, aggregate) -> str:
        return str(aggregate.pk)


def _reason(refusal: DomainError) -> str:
    reason = f"{refusal.code}: {refusal.message}"
    if isinstance(refusal, InvalidCommand):
        reason += " " + "; ".join(f"{field}: {' '.join(errors)}" for field, errors in refusal.errors.items())
    return reason


@admin.display(description="History")
def event_history(aggregate) -> str:
    return stream_link(aggregate.pk, "Event history")


# --- Products ---------------------------------------------------------------------


class RestockForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY, label="Units to add to each product")


@admin.register(Product)
class ProductAdmin(CommandActionsMixin, UUIDSearchMixin, ReadOnlyAdmin):
    list_display = ["sku", "name", "category", "price", "stock", "discontinued", "version", event_history]
    list_filter = ["discontinued", "category"]
    search_fields = ["sku", "name"]
    search_help_text = "SKU, name or product id."
    date_hierarchy = "created_at"
    readonly_fields = [event_history]
    actions = ["restock", "discontinue"]
    command_permission = ("commands.change_product", "commands.manage_catalog")

    def row_label(self, product) -> str:
        return product.sku

    @admin.action(description="Restock selected products…", permissions=["command"])
    def restock(self, request, queryset):
        form = RestockForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            quantity = form.cleaned_data["quantity"]
            self.dispatch_each(
                request,
                queryset,
                action="restock_product",
                command_for=lambda product, **ids: RestockProduct(product_id=product.pk, quantity=quantity, **ids),
                done=f"restocked with {quantity}",
            )
            return None  # back to the list, with the messages
        context = {
            **self.admin_site.each_context(request),
            "title": "Restock products",
            "opts": self.opts,
            "products": queryset,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/commands/product/restock.html", context)

    @admin.action(description="Discontinue selected products", permissions=["command"])
    def discontinue(self, request, queryset):
        self.dispatch_each(
            request,
            queryset,
            action="discontinue_product",
            command_for=lambda product, **ids: DiscontinueProduct(product_id=product.pk, **ids),
            done="discontinued",
        )


# --- Customers --------------------------------------------------------------------


@admin.register(Customer)
class CustomerAdmin(UUIDSearchMixin, ReadOnlyAdmin):
    list_display = ["name", "email", "user", "version", "created_at", event_history]
    search_fields = ["name", "email", "user__username"]
    search_help_text = "Name, e-mail, username or customer id."
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    readonly_fields = [event_history]


# --- Orders -----------------------------------------------------------------------


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    fields = ["product", "quantity", "unit_price"]
    readonly_fields = fields
    extra = 0

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("commands.view_order")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(CommandActionsMixin, UUIDSearchMixin, ReadOnlyAdmin):
    list_display = ["id", "customer", "status", "total", "version", "placed_at", event_history]
    list_filter = ["status"]
    search_fields = ["customer__name", "customer__email"]
    search_help_text = "Customer name or e-mail, or an order id."
    date_hierarchy = "placed_at"
    list_select_related = ["customer"]
    readonly_fields = [event_history]
    inlines = [OrderLineInline]
    actions = ["mark_paid", "mark_shipped", "cancel"]
    command_permission = ("commands.change_order",)

    @admin.action(description="Mark selected orders as paid", permissions=["command"])
    def mark_paid(self, request, queryset):
        self.dispatch_each(
            request,
            queryset,
            action="pay_order",
            command_for=lambda order, **ids: PayOrder(order_id=order.pk, **ids),
            done=OrderStatus.PAID,
        )

    @admin.action(description="Mark selected orders as shipped", permissions=["command"])
    def mark_shipped(self, request, queryset):
        self.dispatch_each(
            request,
            queryset,
            action="ship_order",
            command_for=lambda order, **ids: ShipOrder(order_id=order.pk, **ids),
            done=OrderStatus.SHIPPED,
        )

    @admin.action(description="Cancel selected orders", permissions=["command"])
    def cancel(self, request, queryset):
        reason = f"cancelled in the admin by {request.user.get_username()}"
        self.dispatch_each(
            request,
            queryset,
            action="cancel_order",
            command_for=lambda order, **ids: CancelOrder(order_id=order.pk, reason=reason, **ids),
            done=OrderStatus.CANCELLED,
        )
