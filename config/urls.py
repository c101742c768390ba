from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.api_root import ApiRootView
from core import health
from core.metrics import metrics_view
from core.throttling import ObtainTokenView
from queries.live import order_page

urlpatterns = [
    path("", TemplateView.as_view(template_name="shop/landing.html"), name="landing"),
    path("orders/<uuid:order_id>/", order_page, name="order-page"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", ApiRootView.as_view(), name="api-root"),
    path("api/commands/", include("commands.api.urls")),
    path("api/queries/", include("queries.urls")),
    path("api/auth/token/", ObtainTokenView.as_view(), name="obtain-token"),
    path("api/auth/", include("rest_framework.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

handler404 = "config.api.not_found"
