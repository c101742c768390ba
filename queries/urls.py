"""The query API's URLs: /api/queries/<resource>/ and /api/queries/<resource>/<id>/, and their index."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from core.api_index import INDEX_URL_NAME, EndpointIndexView
from queries import live, views

app_name = "queries"

router = SimpleRouter()
router.register("products", views.ProductViewSet, basename="product")
router.register("orders", views.OrderViewSet, basename="order")
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("sales/daily", views.DailySalesViewSet, basename="daily-sales")
router.register("projections", views.ProjectionStatusViewSet, basename="projection")
query_patterns = [
    *router.urls,
    # Server-sent events: a plain async view (queries.live), listed in the index with the others.
    path("stream/", live.stream_view, name="stream"),
]

urlpatterns = [
    # The same index as the commands', in place of DefaultRouter's (which lists no detail URL).
    path("", EndpointIndexView.as_view(name="Queries", patterns=query_patterns), name=INDEX_URL_NAME),
    *query_patterns,
]
