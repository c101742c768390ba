"""The project's URLs, plus the baseline views under /bench/baseline/."""

from django.urls import include, path

from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    *project_urlpatterns,
    path("bench/baseline/", include("bench.baseline_app.urls")),
]
