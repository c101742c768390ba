"""Factories for tests. Aggregates are made through the command handlers, so their events exist too."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from commands.commands import OrderLineRequest, PlaceOrder, RegisterCustomer, RegisterProduct
from commands.handlers import dispatch
from commands.models import Customer, Order, Product

PASSWORD = "correct horse battery staple"  # every factory-made user's


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(user, create, extracted, **kwargs):
        if create:
            user.save()


class StaffFactory(UserFactory):
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True


class CatalogManagerFactory(UserFactory):
    username = factory.Sequence(lambda n: f"manager{n}")

    @factory.post_generation
    def catalog_permission(user, create, extracted, **kwargs):
        if create:
            user.user_permissions.add(Permission.objects.get(codename="manage_catalog"))


class _CommandFactory(factory.Factory):
    """Builds a command, dispatches it as `actor` (staff by default) and returns the aggregate."""

    class Meta:
        abstract = True

    _aggregate_model = None

    @classmethod
    def _create(cls, model_class, actor=None, **kwargs):
        recorded = dispatch(model_class(**kwargs), actor or StaffFactory())
        return cls._aggregate_model.objects.get(pk=recorded.aggregate_id)


class ProductFactory(_CommandFactory):
    class Meta:
        model = RegisterProduct

    _aggregate_model = Product
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Faker("catch_phrase")
    description = factory.Faker("sentence")
    category = factory.Iterator(["books", "garden", "kitchen", "toys"])
    price = factory.Iterator([Decimal("9.99"), Decimal("24.50"), Decimal("3.00")])
    stock = 100


class CustomerFactory(_CommandFactory):
    """A registered customer; the user registers themself unless `actor` says otherwise."""

    class Meta:
        model = RegisterCustomer

    _aggregate_model = Customer
    user = factory.SubFactory(UserFactory)
    name = factory.LazyAttribute(lambda c: c.user.get_full_name() or c.user.username)
    email = factory.LazyAttribute(lambda c: c.user.email)

    @classmethod
    def _create(cls, model_class, user, actor=None, **kwargs):
        return super()._create(model_class, actor=actor or user, user_id=user.pk, **kwargs)


def place_order(customer: Customer, quantities: dict[Product, int], actor=None) -> Order:
    """Place an order for `customer` (as the customer, unless `actor` is given)."""
    command = PlaceOrder(
        customer_id=customer.pk,
        lines=tuple(OrderLineRequest(product_id=p.pk, quantity=q) for p, q in quantities.items()),
    )
    recorded = dispatch(command, actor or customer.user)
    return Order.objects.get(pk=recorded.aggregate_id)
