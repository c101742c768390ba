from django.urls import path

from commands.api import customers, orders, products, status
from core.api_index import INDEX_URL_NAME, EndpointIndexView

app_name = "commands"

command_patterns = [
    path("products/register/", products.RegisterProductView.as_view(), name="register-product"),
    path("products/<uuid:product_id>/change-price/", products.ChangePriceView.as_view(), name="change-price"),
    path("products/<uuid:product_id>/restock/", products.RestockProductView.as_view(), name="restock-product"),
    path(
        "products/<uuid:product_id>/discontinue/",
        products.DiscontinueProductView.as_view(),
        name="discontinue-product",
    ),
    path("customers/register/", customers.RegisterCustomerView.as_view(), name="register-customer"),
    path("orders/place/", orders.PlaceOrderView.as_view(), name="place-order"),
    path("orders/<uuid:order_id>/pay/", orders.PayOrderView.as_view(), name="pay-order"),
    path("orders/<uuid:order_id>/ship/", orders.ShipOrderView.as_view(), name="ship-order"),
    path("orders/<uuid:order_id>/cancel/", orders.CancelOrderView.as_view(), name="cancel-order"),
    path("status/<uuid:command_id>/", status.CommandStatusView.as_view(), name="command-status"),
]

urlpatterns = [
    path("", EndpointIndexView.as_view(name="Commands", patterns=command_patterns), name=INDEX_URL_NAME),
    *command_patterns,
]
