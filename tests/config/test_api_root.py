"""The browsable API's way in: /api/ lists both sides, /api/commands/ and /api/queries/ their own endpoints,
and every API page's breadcrumbs lead back to /api/."""

import re
import uuid

import pytest
from django.urls import get_resolver

from core import routers

pytestmark = pytest.mark.django_db(databases="__all__")

HOST = "http://testserver"


def _url_names(namespace: str) -> set[str]:
    """Every named endpoint in the URL namespace, its index left out."""
    _prefix, resolver = get_resolver().namespace_dict[namespace]
    return {pattern.name for pattern in resolver.url_patterns if pattern.name != "api-root"}


def test_the_root_lists_both_sides_and_the_docs(anonymous_client):
    response = anonymous_client.get("/api/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("commands", "queries", "docs", "schema", "token")} == {
        "commands": f"{HOST}/api/commands/",
        "queries": f"{HOST}/api/queries/",
        "docs": f"{HOST}/api/docs/",
        "schema": f"{HOST}/api/schema/",
        "token": f"{HOST}/api/auth/token/",
    }
    assert set(body["command_endpoints"]) == _url_names("commands")
    assert set(body["query_endpoints"]) == _url_names("queries")


@pytest.mark.parametrize(
    ("path", "namespace", "in_the_root"),
    [("/api/commands/", "commands", "command_endpoints"), ("/api/queries/", "queries", "query_endpoints")],
)
def test_each_side_lists_its_own_endpoints(anonymous_client, path, namespace, in_the_root):
    response = anonymous_client.get(path, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert set(response.json()) == _url_names(namespace)
    assert response.json() == anonymous_client.get("/api/").json()[in_the_root]


def test_a_path_parameter_is_shown_as_a_uri_template(anonymous_client):
    commands = anonymous_client.get("/api/commands/").json()
    queries = anonymous_client.get("/api/queries/").json()
    assert commands["place-order"] == f"{HOST}/api/commands/orders/place/"
    assert commands["change-price"] == f"{HOST}/api/commands/products/{{product_id}}/change-price/"
    assert queries["product-list"] == f"{HOST}/api/queries/products/"
    assert queries["daily-sales-detail"] == f"{HOST}/api/queries/sales/daily/{{date}}/"


def _placeholder_id(parameter: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, parameter))


def _every_api_page() -> list[str]:
    """Each index and each endpoint, its path parameters filled in (a missing row still renders a page).

    The same paths at every collection: parallel test processes must collect the same tests.
    """
    fillers = {"date": "2030-01-01", "name": "order_summary"}
    paths = ["/api/", "/api/commands/", "/api/queries/"]
    for namespace in ("commands", "queries"):
        _prefix, resolver = get_resolver().namespace_dict[namespace]
        for pattern in resolver.url_patterns:
            route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", str(pattern.pattern)).strip("^$")
            route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: fillers.get(m[1], _placeholder_id(m[1])), route)
            paths.append(f"/api/{namespace}/{route}")
    paths.remove("/api/queries/stream/")  # server-sent events for EventSource and curl, no page for people
    return sorted(set(paths))


@pytest.mark.parametrize("path", _every_api_page())
def test_every_api_page_s_breadcrumbs_start_at_the_api_root(staff_client, monkeypatch, path):
    monkeypatch.setattr(routers, "replica_aliases", lambda: [])  # a replica connection would see no test rows
    response = staff_client.get(path, HTTP_ACCEPT="text/html")
    assert response["Content-Type"].startswith("text/html"), (path, response.status_code)
    breadcrumbs = re.search(r'<ul class="breadcrumb">(.*?)</ul>', response.content.decode(), re.S)
    assert breadcrumbs, path
    links = re.findall(r'<a href="([^"]+)">', breadcrumbs[1])
    assert links[0] == "/api/", (path, links)
    assert links[-1] == path
