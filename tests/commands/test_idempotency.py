"""Idempotency-Key: a retried command returns its first response and has no second effect."""

import pytest

from commands.models import IdempotencyRecord, Order, Product
from tests.commands.helpers import EventLogWatch, assert_accepted, assert_refused, post, url

pytestmark = pytest.mark.django_db(databases="__all__")

PLACE = url("place-order")


def order_of(product, quantity: int) -> dict:
    return {"lines": [{"product_id": str(product.pk), "quantity": quantity}]}


def stock_of(product) -> int:
    return Product.objects.get(pk=product.pk).stock


def test_a_retry_gets_the_first_response_and_changes_nothing(customer_client, product):
    first = post(customer_client, PLACE, order_of(product, 2), headers={"Idempotency-Key": "basket-1"})
    log = EventLogWatch()

    retry = post(customer_client, PLACE, order_of(product, 2), headers={"Idempotency-Key": "basket-1"})

    position = assert_accepted(retry, Order.objects.get().id, version=1, status=201)
    assert retry.json() == first.json()
    assert position == first.json()["position"]
    assert retry["Idempotent-Replayed"] == "true"
    assert stock_of(product) == 8
    log.assert_nothing_appended()


def test_the_first_response_is_not_marked_as_replayed(customer_client, product):
    response = post(customer_client, PLACE, order_of(product, 2), headers={"Idempotency-Key": "basket-1"})

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response


def test_without_a_key_the_same_command_runs_twice(staff_client, product):
    restock = url("restock-product", product.pk)

    post(staff_client, restock, {"quantity": 5})
    post(staff_client, restock, {"quantity": 5})

    assert stock_of(product) == 20


def test_the_same_key_with_another_body_is_refused(staff_client, product):
    restock = url("restock-product", product.pk)
    post(staff_client, restock, {"quantity": 5}, headers={"Idempotency-Key": "delivery-1"})
    log = EventLogWatch()

    response = post(staff_client, restock, {"quantity": 6}, headers={"Idempotency-Key": "delivery-1"})

    assert_refused(response, 422, "idempotency_key_reused")
    assert stock_of(product) == 15
    log.assert_nothing_appended()


def test_the_same_key_on_another_endpoint_is_refused(staff_client, product):
    post(staff_client, url("restock-product", product.pk), {"quantity": 5}, headers={"Idempotency-Key": "k"})

    response = post(staff_client, url("discontinue-product", product.pk), headers={"Idempotency-Key": "k"})

    assert_refused(response, 422, "idempotency_key_reused")
    assert not Product.objects.get(pk=product.pk).discontinued


def test_a_refused_command_leaves_the_key_free_for_a_retry(customer_client, staff_client, product):
    refused = post(customer_client, PLACE, order_of(product, 12), headers={"Idempotency-Key": "basket-1"})
    assert_refused(refused, 409, "insufficient_stock")
    assert not IdempotencyRecord.objects.exists()
    post(staff_client, url("restock-product", product.pk), {"quantity": 5})

    retry = post(customer_client, PLACE, order_of(product, 12), headers={"Idempotency-Key": "basket-1"})

    assert_accepted(retry, Order.objects.get().id, version=1, status=201)
    assert "Idempotent-Replayed" not in retry
    assert stock_of(product) == 3


def test_invalid_input_does_not_use_up_the_key(customer_client, product):
    invalid = post(customer_client, PLACE, order_of(product, 0), headers={"Idempotency-Key": "basket-1"})
    assert_refused(invalid, 400, "invalid")

    corrected = post(customer_client, PLACE, order_of(product, 1), headers={"Idempotency-Key": "basket-1"})

    assert corrected.status_code == 201
    assert stock_of(product) == 9


def test_keys_belong_to_the_user_who_sent_them(customer_client, other_customer_client, product):
    post(customer_client, PLACE, order_of(product, 2), headers={"Idempotency-Key": "basket-1"})

    theirs = post(other_customer_client, PLACE, order_of(product, 3), headers={"Idempotency-Key": "basket-1"})

    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert Order.objects.count() == 2
    assert stock_of(product) == 5


def test_the_same_body_from_another_user_is_their_own_command(customer_client, other_customer_client, product):
    mine = post(customer_client, PLACE, order_of(product, 2), headers={"Idempotency-Key": "basket-1"})

    theirs = post(other_customer_client, PLACE, order_of(product, 2), headers={"Idempotency-Key": "basket-1"})

    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]
    assert stock_of(product) == 6


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
def test_a_blank_or_overlong_key_is_refused(customer_client, product, key):
    response = post(customer_client, PLACE, order_of(product, 1), headers={"Idempotency-Key": key})

    assert list(assert_refused(response, 400, "invalid")["errors"]) == ["Idempotency-Key"]
    assert not Order.objects.exists()


def test_a_key_of_255_characters_is_accepted(customer_client, product):
    key = "k" * 255

    first = post(customer_client, PLACE, order_of(product, 1), headers={"Idempotency-Key": key})
    retry = post(customer_client, PLACE, order_of(product, 1), headers={"Idempotency-Key": key})

    assert first.status_code == retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1


def test_a_replayed_ok_keeps_its_status_and_position_header(staff_client, product):
    change_price = url("change-price", product.pk)
    first = post(staff_client, change_price, {"new_price": "5.00"}, headers={"Idempotency-Key": "reprice"})

    retry = post(staff_client, change_price, {"new_price": "5.00"}, headers={"Idempotency-Key": "reprice"})

    assert retry.status_code == 200
    assert retry["X-Event-Position"] == first["X-Event-Position"]
    assert Product.objects.get(pk=product.pk).version == 2
