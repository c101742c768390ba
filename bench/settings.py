"""Settings for benchmarks: the project's settings plus the baseline app and its URLs.

The databases, Redis and every other knob still come from the environment, which the
runner (bench/environment.py) sets before Django starts, for itself and for every server
and worker it launches.
"""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.baseline_app"]
ROOT_URLCONF = "bench.urls"
