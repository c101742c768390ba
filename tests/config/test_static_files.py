"""With DEBUG off, the web process serves the collected static files itself (WhiteNoise), as the compose stack runs it.

One web server (scripts/serve) started without DEBUG, on files that `collectstatic` gathered into a scratch STATIC_ROOT:
the admin's stylesheet is served under its own name and under its hashed name (cached for good, and
gzipped for a client that accepts it), and the pages link the hashed name. With DEBUG on (`make run`,
the rest of the suite) nothing needs collecting.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.processes import PROJECT, Services

STYLESHEET = "admin/css/base.css"


def production_environment(tmp: Path) -> dict[str, str]:
    """DEBUG off, with its own SQLite files and no Redis: this server shares nothing with the test session."""
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "STATIC_ROOT": str(tmp / "static"),
        "DATABASE_URL": f"sqlite:///{tmp / 'write.sqlite3'}",
        "READ_DATABASE_URL": f"sqlite:///{tmp / 'read.sqlite3'}",
        "READ_REPLICA_URLS": "",
        "REDIS_URL": "",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


@pytest.fixture(scope="module")
def production_site(tmp_path_factory):
    """Collect the static files as the Docker image does, then serve them with scripts/serve; yield its base URL."""
    tmp = tmp_path_factory.mktemp("static-site")
    environment = production_environment(tmp)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=PROJECT,
        env=environment,
        check=True,
        timeout=300,
    )
    services = Services(tmp)
    try:
        _, base_url = services.web_server(environment, workers=1)
        yield {"url": base_url, "static_root": tmp / "static"}
    finally:
        services.stop_all()


def fetch(url: str, **headers: str):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
        return response.status, response.headers, response.read()


def hashed_name(static_root: Path, name: str) -> str:
    """The content-hashed name the manifest gives `name`."""
    manifest = json.loads((static_root / "staticfiles.json").read_text())
    return manifest["paths"][name]


def test_the_admin_stylesheet_is_served_with_debug_off(production_site):
    status, headers, body = fetch(f"{production_site['url']}/static/{STYLESHEET}")

    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert body == (production_site["static_root"] / STYLESHEET).read_bytes()


def test_its_hashed_name_is_cached_for_good_and_gzipped_on_request(production_site):
    hashed = hashed_name(production_site["static_root"], STYLESHEET)
    assert hashed != STYLESHEET and hashed.startswith("admin/css/base.")

    status, headers, body = fetch(f"{production_site['url']}/static/{hashed}", **{"Accept-Encoding": "gzip"})

    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert "immutable" in headers["Cache-Control"]
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == (production_site["static_root"] / hashed).read_bytes()


def test_pages_link_the_hashed_names(production_site):
    hashed = hashed_name(production_site["static_root"], STYLESHEET)

    status, _, body = fetch(f"{production_site['url']}/admin/login/")

    assert status == 200
    assert f"/static/{hashed}".encode() in body


def test_an_unknown_static_file_is_a_404_not_a_crash(production_site):
    with pytest.raises(urllib.error.HTTPError) as missing:
        fetch(f"{production_site['url']}/static/admin/css/no-such-file.css")

    assert missing.value.code == 404


def test_with_debug_on_the_files_come_from_the_apps_uncollected():
    # The suite runs on the DEBUG-on settings: no manifest is needed, so a fresh clone's tests and
    # `make run` work before any collectstatic.
    assert settings.STORAGES["staticfiles"]["BACKEND"] == "django.contrib.staticfiles.storage.StaticFilesStorage"
    assert settings.WHITENOISE_USE_FINDERS is True
