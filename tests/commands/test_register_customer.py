"""POST /api/commands/customers/register/: a signed-in user registers themself as a customer."""

import pytest

from commands.commands import RegisterCustomer
from commands.errors import Forbidden
from commands.handlers import dispatch
from commands.models import Customer
from tests.commands.helpers import (
    EventLogWatch,
    assert_accepted,
    assert_metadata,
    assert_refused,
    post,
    signed_in,
    url,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(databases="__all__")

REGISTER = url("register-customer")


def test_a_user_registers_themself(plain_user_client, plain_user):
    log = EventLogWatch()

    response = post(plain_user_client, REGISTER, {"name": "Ada Lovelace", "email": "ada@example.com"})

    customer = Customer.objects.get(user=plain_user)
    position = assert_accepted(response, customer.id, version=1, status=201)
    assert (customer.name, customer.email, customer.version) == ("Ada Lovelace", "ada@example.com", 1)
    [event] = log.new_events()
    assert (event.type, event.stream_id, event.version) == ("CustomerRegistered", customer.id, 1)
    assert event.position == position
    assert event.data == {
        "customer_id": str(customer.id),
        "user_id": plain_user.pk,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
    }
    assert_metadata(event, command="RegisterCustomer", actor=plain_user)


def test_name_and_email_default_to_the_users_own(plain_user_client, plain_user):
    response = post(plain_user_client, REGISTER)

    customer = Customer.objects.get(user=plain_user)
    assert_accepted(response, customer.id, version=1, status=201)
    assert customer.name == f"{plain_user.first_name} {plain_user.last_name}"
    assert customer.email == plain_user.email


def test_a_user_without_a_full_name_is_registered_under_their_username():
    user = UserFactory(username="grace", first_name="", last_name="")

    post(signed_in(user), REGISTER)

    assert Customer.objects.get(user=user).name == "grace"


def test_a_user_cannot_register_someone_else(plain_user_client, plain_user):
    someone_else = UserFactory()

    post(plain_user_client, REGISTER, {"user_id": someone_else.pk, "user": someone_else.pk})

    assert Customer.objects.get().user == plain_user
    assert not Customer.objects.filter(user=someone_else).exists()


def test_registering_twice_is_refused(customer_client, customer):
    log = EventLogWatch()

    response = post(customer_client, REGISTER, {"name": "Someone New"})

    assert_refused(response, 409, "customer_already_registered")
    customer.refresh_from_db()
    assert customer.name != "Someone New"
    assert customer.version == 1
    log.assert_nothing_appended()


def test_staff_register_themselves_like_anyone_else(staff_client, staff_user):
    response = post(staff_client, REGISTER)

    assert_accepted(response, Customer.objects.get(user=staff_user).id, version=1, status=201)


@pytest.mark.parametrize("email", ["not-an-address", "", "a" * 300 + "@example.com"])
def test_an_invalid_email_is_refused(plain_user_client, email):
    response = post(plain_user_client, REGISTER, {"email": email})

    assert list(assert_refused(response, 400, "invalid")["errors"]) == ["email"]
    assert not Customer.objects.exists()


def test_a_user_without_an_email_must_give_one():
    user = UserFactory(email="")

    response = post(signed_in(user), REGISTER)

    assert list(assert_refused(response, 400, "invalid")["errors"]) == ["email"]
    assert post(signed_in(user), REGISTER, {"email": "found@example.com"}).status_code == 201


def test_a_name_longer_than_a_customer_name_may_be_is_refused(plain_user_client):
    response = post(plain_user_client, REGISTER, {"name": "N" * 201})

    assert list(assert_refused(response, 400, "invalid")["errors"]) == ["name"]


def test_a_full_name_too_long_for_a_customer_must_be_shortened_by_the_user():
    user = UserFactory(first_name="F" * 150, last_name="L" * 150)

    response = post(signed_in(user), REGISTER)

    assert list(assert_refused(response, 400, "invalid")["errors"]) == ["name"]
    assert not Customer.objects.exists()
    assert post(signed_in(user), REGISTER, {"name": "F. L."}).status_code == 201


def test_the_handler_refuses_to_register_another_user_for_a_non_staff_actor(plain_user):
    someone_else = UserFactory()
    command = RegisterCustomer(user_id=someone_else.pk, name="Someone", email="someone@example.com")

    with pytest.raises(Forbidden):
        dispatch(command, plain_user)

    assert not Customer.objects.exists()


def test_the_handler_lets_staff_register_a_user(staff_user, plain_user):
    command = RegisterCustomer(user_id=plain_user.pk, name="Walk-in", email="walk-in@example.com")

    recorded = dispatch(command, staff_user)

    assert Customer.objects.get(pk=recorded.aggregate_id).user == plain_user
    assert_metadata(recorded.events[0], command="RegisterCustomer", actor=staff_user)
