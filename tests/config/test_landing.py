"""The landing page at /: what the shop is, and links that all lead somewhere."""

import re

import pytest

pytestmark = pytest.mark.django_db


def _links(response) -> list[str]:
    return re.findall(r'href="([^"]+)"', response.content.decode())


def test_it_says_what_the_shop_is(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    text = response.content.decode()
    for step in ("commands", "event log", "projections", "queries"):
        assert f"<li>{step}</li>" in text


def test_it_links_to_the_api_root_the_docs_and_the_admin(client):
    links = _links(client.get("/"))
    assert {"/api/", "/api/docs/", "/admin/"} <= set(links)


def test_no_link_is_dead(client):
    for link in _links(client.get("/")):
        response = client.get(link)
        assert response.status_code in (200, 302), (link, response.status_code)
        if response.status_code == 302:  # the admin sends a visitor to its login page
            assert client.get(response["Location"]).status_code == 200, link
