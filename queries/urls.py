"""The query API's URLs: /api/queries/<resource>/ and /api/queries/<resource>/<id>/."""

from rest_framework.routers import DefaultRouter

from queries import views

app_name = "queries"

router = DefaultRouter()
router.include_format_suffixes = False
router.register("products", views.ProductViewSet, basename="product")
router.register("orders", views.OrderViewSet, basename="order")
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("sales/daily", views.DailySalesViewSet, basename="daily-sales")
router.register("projections", views.ProjectionStatusViewSet, basename="projection")

urlpatterns = router.urls
