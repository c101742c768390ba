"""Products and customers in the admin: read-only, restocked and discontinued only through commands."""

import pytest
from django.urls import reverse

from commands.models import Customer, OperatorAction, Product, StoredEvent
from tests.admin.helpers import audit_rows, grant, messages_of, offered_actions, run_action
from tests.factories import CustomerFactory, ProductFactory, StaffFactory
from tests.projections.helpers import discontinue

pytestmark = pytest.mark.django_db(databases="__all__")


def stock(product) -> int:
    return Product.objects.get(pk=product.pk).stock


def test_operators_are_offered_restock_and_discontinue(operator_client):
    assert offered_actions(operator_client, Product) == ["restock", "discontinue"]


def test_restocking_first_asks_how_many_units(operator_client):
    kettle, mug = ProductFactory(sku="KETTLE", stock=1), ProductFactory(sku="MUG", stock=2)

    response = run_action(operator_client, Product, "restock", [kettle, mug])

    assert response.status_code == 200
    assert response.templates[0].name == "admin/commands/product/restock.html"
    page = response.content.decode()
    assert "KETTLE" in page and "MUG" in page
    assert 'name="quantity"' in page
    assert page.count('name="_selected_action"') == 2
    assert (stock(kettle), stock(mug)) == (1, 2)
    assert not OperatorAction.objects.exists()


def test_restocking_adds_the_quantity_to_each_product_or_says_why_not(operator_client, operator):
    kettle, gone = ProductFactory(sku="KETTLE", stock=1), ProductFactory(sku="GONE", stock=0)
    discontinue(gone)

    response = run_action(operator_client, Product, "restock", [kettle, gone], quantity="5", apply="Restock")

    assert response.status_code == 302
    assert (stock(kettle), stock(gone)) == (6, 0)
    restocked = StoredEvent.objects.get(type="ProductRestocked")
    assert restocked.data["quantity"] == 5
    assert restocked.metadata["actor"]["username"] == operator.username
    assert sorted(messages_of(response)) == [
        "Product GONE: refused, product_unavailable: Product GONE is discontinued and cannot be restocked.",
        f"Product KETTLE: restocked with 5 (version 2, event #{restocked.position}).",
    ]
    assert sorted(audit_rows()) == sorted(
        [
            (operator.username, "restock_product", f"product {kettle.pk}", "done"),
            (operator.username, "restock_product", f"product {gone.pk}", "refused"),
        ]
    )


@pytest.mark.parametrize("quantity", ["0", "-3", "many", "10001"])
def test_a_bad_quantity_is_asked_again_and_nothing_changes(operator_client, quantity):
    kettle = ProductFactory(stock=1)

    response = run_action(operator_client, Product, "restock", [kettle], quantity=quantity, apply="Restock")

    assert response.status_code == 200
    assert response.context["form"].errors["quantity"]
    assert stock(kettle) == 1
    assert not StoredEvent.objects.filter(type="ProductRestocked").exists()


def test_discontinuing_refuses_a_product_already_discontinued(operator_client):
    kettle, gone = ProductFactory(sku="KETTLE"), ProductFactory(sku="GONE")
    discontinue(gone)

    response = run_action(operator_client, Product, "discontinue", [kettle, gone])

    assert Product.objects.get(pk=kettle.pk).discontinued
    assert "Product GONE: refused, product_unavailable: Product GONE is already discontinued." in messages_of(response)
    assert any(message.startswith("Product KETTLE: discontinued (version 2") for message in messages_of(response))


def test_catalog_managers_may_run_the_product_actions(signed_in):
    manager = signed_in(grant(StaffFactory(), "commands.view_product", "commands.manage_catalog"))
    kettle = ProductFactory()

    run_action(manager, Product, "discontinue", [kettle])

    assert Product.objects.get(pk=kettle.pk).discontinued


def test_staff_without_a_catalog_permission_cannot_restock(viewer_client):
    kettle = ProductFactory(stock=1)

    assert offered_actions(viewer_client, Product) == []
    run_action(viewer_client, Product, "restock", [kettle], quantity="5", apply="Restock")

    assert stock(kettle) == 1


def test_products_are_searched_by_sku_and_filtered_by_discontinued(viewer_client):
    kettle, gone = ProductFactory(sku="KETTLE"), ProductFactory(sku="GONE")
    discontinue(gone)
    url = reverse("admin:commands_product_changelist")

    def found(**query):
        return {product.sku for product in viewer_client.get(url, query).context["cl"].result_list}

    assert found(q="kett") == {"KETTLE"}
    assert found(discontinued__exact="1") == {"GONE"}
    assert found(q=str(kettle.pk)) == {"KETTLE"}


def test_customers_are_listed_read_only_without_actions(viewer_client, signed_in, django_user_model):
    ada = CustomerFactory(name="Ada Lovelace")
    superuser = signed_in(django_user_model.objects.create_superuser("root", "root@example.com", "x"))

    listing = viewer_client.get(reverse("admin:commands_customer_changelist"), {"q": "Lovelace"})

    assert [customer.pk for customer in listing.context["cl"].result_list] == [ada.pk]
    assert offered_actions(superuser, Customer) == []
    assert superuser.post(reverse("admin:commands_customer_change", args=[ada.pk]), {"name": "X"}).status_code == 403
    assert Customer.objects.get(pk=ada.pk).name == "Ada Lovelace"
