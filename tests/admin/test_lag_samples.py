"""Lag samples for the dashboard's chart: beat runs sample_lag every 30 s; samples are kept for a day."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from config.celery import app
from projections.models import LagSample
from projections.registry import registry
from projections.tasks import sample_lag
from tests.admin.helpers import project
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_sample_records_every_followers_position_and_lag():
    ProductFactory()
    project()
    ProductFactory()  # one event nobody has applied yet

    assert sample_lag.delay().get() == len(registry())

    samples = {sample.name: sample for sample in LagSample.objects.all()}
    assert list(samples) == sorted(registry())
    assert {(sample.lag_events, sample.lag_seconds >= 0) for sample in samples.values()} == {(1, True)}
    assert len({sample.taken_at for sample in samples.values()}) == 1


def test_samples_older_than_a_day_are_pruned():
    old = timezone.now() - timedelta(days=1, minutes=1)
    recent = timezone.now() - timedelta(hours=23)
    for taken_at in (old, recent):
        LagSample.objects.create(taken_at=taken_at, name="cache", position=0, lag_events=0, lag_seconds=0)

    sample_lag()

    assert old not in set(LagSample.objects.values_list("taken_at", flat=True))
    assert LagSample.objects.filter(taken_at=recent).exists()


def test_beat_samples_the_lag_every_30_seconds():
    entry = settings.CELERY_BEAT_SCHEDULE["sample-projection-lag"]

    assert entry == {"task": "projections.tasks.sample_lag", "schedule": 30.0}
    assert entry["task"] in app.tasks
