"""Losing the broker loses no event: commands keep succeeding, and projections catch up when it returns."""

import pytest

from queries.models import OrderSummary
from tests.drills.helpers import Shopper, assert_read_models_match_a_rebuild, positions, wait_until_caught_up
from tests.factories import CustomerFactory, ProductFactory, StaffFactory
from tests.processes import service_environment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]


def test_commands_succeed_without_redis_and_projections_catch_up_when_it_returns(services):
    staff = StaffFactory()
    product = ProductFactory(stock=100, actor=staff)
    customer = CustomerFactory()
    redis, redis_url = services.redis()
    shopper = Shopper(services.shop(service_environment(redis_url)), customer.user)

    assert shopper.place_order(product).status_code == 201
    wait_until_caught_up()

    redis.stop()
    during_outage = [shopper.place_order(product) for _ in range(5)]
    assert [response.status_code for response in during_outage] == [201] * 5
    stalled = positions()

    services.redis(port=int(redis_url.split(":")[-1].split("/")[0]))
    head = wait_until_caught_up(timeout=120)

    assert max(stalled.values()) < head
    assert OrderSummary.objects.using("read").count() == 6
    assert_read_models_match_a_rebuild()
