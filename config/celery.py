"""The Celery application; tasks live in projections.tasks."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("shopfront")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
