from django.urls import path
from rest_framework.routers import SimpleRouter

from bench.baseline_app import views

router = SimpleRouter()
router.register("orders", views.PlainOrderViewSet, basename="plain-order")

urlpatterns = [
    *router.urls,
    path("write/orders/", views.WriteOrdersView.as_view()),
    path("write/products/", views.WriteProductsView.as_view()),
    path("write/sales/daily/", views.WriteDailySalesView.as_view()),
    path("read/products/", views.PlainProductsView.as_view()),
    path("read/products/<uuid:pk>/", views.PlainProductView.as_view()),
    path("read/orders/", views.PlainOrdersView.as_view()),
]
