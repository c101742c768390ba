"""The OpenAPI schema at /api/schema/ and the Swagger UI at /api/docs/, with self-hosted assets."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from rest_framework.test import APIClient


@pytest.fixture(scope="module")
def schema():
    """The schema as a client fetches it (it needs no database)."""
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def operations(schema, prefix: str):
    for path, methods in schema["paths"].items():
        if path.startswith(prefix):
            for method, operation in methods.items():
                yield f"{method.upper()} {path}", operation


def parameters(operation) -> set[tuple[str, str]]:
    return {(parameter["in"], parameter["name"]) for parameter in operation.get("parameters", [])}


def test_the_schema_validates_without_a_warning(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_it_describes_every_query_endpoint(schema):
    query_paths = {path for path in schema["paths"] if path.startswith("/api/queries/")}
    assert query_paths == {
        "/api/queries/products/",
        "/api/queries/products/{id}/",
        "/api/queries/orders/",
        "/api/queries/orders/{id}/",
        "/api/queries/orders/{id}/history/",
        "/api/queries/customers/",
        "/api/queries/customers/{id}/",
        "/api/queries/sales/daily/",
        "/api/queries/sales/daily/{date}/",
        "/api/queries/projections/",
        "/api/queries/projections/{name}/",
        "/api/queries/stream/",
    }


def test_every_operation_has_exactly_the_path_parameters_of_its_path(schema):
    for name, operation in operations(schema, "/api/"):
        path = name.split(" ", 1)[1]
        assert {n for location, n in parameters(operation) if location == "path"} == set(
            re.findall(r"{(\w+)}", path)
        ), name


def test_every_query_documents_min_position_read_position_and_its_errors(schema):
    for name, operation in operations(schema, "/api/queries/"):
        if name == "GET /api/queries/stream/":  # not a read of a read model: it follows the log
            continue
        assert {("header", "X-Min-Position"), ("query", "min_position")} <= parameters(operation), name
        responses = operation["responses"]
        assert "X-Read-Position" in responses["200"]["headers"], name
        assert {"X-Read-Position", "Retry-After"} <= set(responses["503"]["headers"]), name
        assert "Retry-After" in responses["429"]["headers"], name
        assert {"400", "401", "429", "503"} <= set(responses), name
        for status in set(responses) - {"200"}:
            assert responses[status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/QueryError"
            }, (name, status)


def test_staff_only_queries_document_403_and_public_ones_do_not(schema):
    documents_403 = {name for name, operation in operations(schema, "/api/queries/") if "403" in operation["responses"]}
    assert documents_403 == {
        "GET /api/queries/sales/daily/",
        "GET /api/queries/sales/daily/{date}/",
        "GET /api/queries/projections/",
        "GET /api/queries/projections/{name}/",
        "GET /api/queries/stream/",  # the projection topic
    }


def test_cached_lists_document_the_cache_header(schema):
    for path in ("/api/queries/products/", "/api/queries/sales/daily/"):
        assert "X-Cache" in schema["paths"][path]["get"]["responses"]["200"]["headers"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/api/queries/products/",
            {"search", "category", "min_price", "max_price", "in_stock", "status", "ordering", "page", "page_size"},
        ),
        (
            "/api/queries/orders/",
            {"status", "customer", "placed_after", "placed_before", "min_total", "max_total", "ordering", "cursor"},
        ),
        ("/api/queries/customers/", {"ordering", "page", "page_size"}),
        ("/api/queries/sales/daily/", {"date_after", "date_before", "ordering", "page", "page_size"}),
    ],
)
def test_lists_document_their_filters_ordering_and_pages(schema, path, expected):
    operation = schema["paths"][path]["get"]
    assert expected <= {name for location, name in parameters(operation) if location == "query"}
    ordering = next(p for p in operation["parameters"] if p["name"] == "ordering")
    assert "Other fields are ignored" in ordering["description"]


def test_lists_are_paginated_and_the_order_lines_are_described(schema):
    components = schema["components"]["schemas"]
    assert set(components["PaginatedProductList"]["properties"]) == {"count", "next", "previous", "results"}
    assert set(components["PaginatedOrderList"]["properties"]) == {"next", "previous", "results"}
    assert components["Order"]["properties"]["lines"]["items"] == {"$ref": "#/components/schemas/OrderLine"}


def test_every_command_documents_idempotency_and_its_event_position(schema):
    commands = [(name, operation) for name, operation in operations(schema, "/api/commands/") if name[:4] == "POST"]
    assert len(commands) == 9
    for name, operation in commands:
        headers = {("header", "Idempotency-Key"), ("header", "X-Correlation-ID"), ("header", "Prefer")}
        assert headers <= parameters(operation), name
        assert "Location" in operation["responses"]["202"]["headers"], name
        success = [status for status in ("200", "201") if status in operation["responses"]]
        assert success, name
        for status in success:
            assert "X-Event-Position" in operation["responses"][status]["headers"], (name, status)
        assert "requestBody" in operation, name
        assert {"400", "401", "404", "409"} <= set(operation["responses"]), name


def test_the_docs_page_loads_its_assets_from_this_site(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()

    assert not re.search(r"https?://|//cdn|unpkg|jsdelivr|cdnjs", html)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    for asset in assets:
        assert asset.startswith("/static/drf_spectacular_sidecar/"), asset
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not among the static files"
    assert 'url: "/api/schema/"' in html


def test_the_stream_is_documented_with_its_topics_resume_and_wire_headers(schema):
    operation = schema["paths"]["/api/queries/stream/"]["get"]

    assert {("query", "topics"), ("query", "last_event_id"), ("header", "Last-Event-ID")} == parameters(operation)
    assert set(operation["responses"]["200"]["content"]) == {"text/event-stream"}
    assert {"Cache-Control", "X-Accel-Buffering"} == set(operation["responses"]["200"]["headers"])
