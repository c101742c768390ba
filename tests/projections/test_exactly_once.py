"""Each event is applied exactly once: the read-model rows and the checkpoint commit together or not at all."""

from contextlib import contextmanager

import pytest

from projections.base import Projection
from projections.catalog import ProductCatalogProjection
from projections.operations import retry
from projections.runner import Outcome
from queries.models import ProductCatalog
from tests.factories import ProductFactory, place_order
from tests.projections.helpers import checkpoint, project, row, rows

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture
def kettle(db):
    return ProductFactory(stock=20)


@contextmanager
def upserts_failing_after_the_write():
    """Every projection's upsert runs, then raises, as if the connection dropped before the commit."""
    upsert = Projection.write

    def upsert_then_fail(self, model, rows):
        upsert(self, model, rows)
        raise RuntimeError("the connection dropped after the upsert")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Projection, "write", upsert_then_fail)
        yield


def test_a_batch_whose_write_fails_leaves_rows_and_checkpoint_as_they_were(customer, kettle):
    place_order(customer, {kettle: 2})
    project("product_catalog")
    rows_before, position_before = rows(ProductCatalog), checkpoint("product_catalog").position
    place_order(customer, {kettle: 3})

    with upserts_failing_after_the_write():
        result = project("product_catalog")

    assert result.outcome is Outcome.FAILED
    assert rows(ProductCatalog) == rows_before
    assert checkpoint("product_catalog").position == position_before


def test_catching_up_again_after_a_failed_batch_counts_each_order_once(customer, kettle):
    place_order(customer, {kettle: 2})
    project("product_catalog")
    place_order(customer, {kettle: 3})

    with upserts_failing_after_the_write():
        project("product_catalog")
    retry("product_catalog")
    project("product_catalog")
    project("product_catalog")

    listed = row(ProductCatalog, kettle.pk)
    assert (listed.units_sold, listed.stock_available) == (5, 15)


def test_a_runner_killed_after_its_commit_does_not_apply_the_batch_again(customer, kettle):
    place_order(customer, {kettle: 2})

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ProductCatalogProjection, "after_commit", lambda self, handled: _killed())
        with pytest.raises(SystemExit):
            project("product_catalog")
    again = project("product_catalog")

    assert (again.outcome, again.applied) == (Outcome.CAUGHT_UP, 0)
    assert row(ProductCatalog, kettle.pk).units_sold == 2


def test_catching_up_at_the_head_changes_nothing(customer, kettle):
    place_order(customer, {kettle: 2})
    project("product_catalog")
    caught_up = rows(ProductCatalog)

    result = project("product_catalog")

    assert (result.outcome, result.applied) == (Outcome.CAUGHT_UP, 0)
    assert rows(ProductCatalog) == caught_up


def _killed():
    raise SystemExit("the worker was killed")
