"""Who may read what: the catalog is public, customers read their own orders and history, staff read all.

A customer is known on the read side by CustomerOrderHistory.user_id; the
write side's Customer table is never consulted. Rows a user may not see are
filtered out of the queryset, so asking for one by id is a 404, like asking
for one that does not exist.
"""

from uuid import UUID

from django.db.models import QuerySet, Subquery
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated

from queries.models import CustomerOrderHistory

__all__ = [
    "AllowAny",
    "IsAdminUser",
    "IsAuthenticated",
    "customers_visible_to",
    "may_see_order",
    "orders_visible_to",
]


def orders_visible_to(user, orders: QuerySet) -> QuerySet:
    """Every order for staff; a customer's own orders; nothing for anyone else (no customer row: no match)."""
    if user.is_staff:
        return orders
    if not user.is_authenticated:
        return orders.none()
    # A subquery of the orders' own statement, not a read before it: one round trip, and one snapshot.
    customer = CustomerOrderHistory.objects.filter(user_id=user.pk).values("customer_id")[:1]
    return orders.filter(customer_id=Subquery(customer))


def customers_visible_to(user, customers: QuerySet) -> QuerySet:
    """Every customer for staff; a customer's own row; nothing for anyone else."""
    return customers if user.is_staff else customers.filter(user_id=user.pk)


def may_see_order(*, staff: bool, customer_id: UUID | None, order_customer_id: UUID | None) -> bool:
    """Whether a user (staff, or the customer `customer_id`) may see an order of `order_customer_id`.

    The rule of orders_visible_to, for one order already in hand (a live stream's).
    """
    return staff or (customer_id is not None and customer_id == order_customer_id)
