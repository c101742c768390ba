"""The compose stack's way in: Caddy terminates TLS for https://localhost and forwards to web, which serves
its own static files with DEBUG off.

Caddy is not installed here, so docker/caddy/Caddyfile is checked as far as its syntax allows without the
daemon: it is tokenised into blocks as Caddy reads it (comments, braces, one directive a line), and the
site block must use Caddy's internal CA and proxy to web's port.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from tests.config.test_docker_compose import COMPOSE, ROOT, SERVICES, environment
from tests.config.test_settings import DEPLOY, run

CADDYFILE_TARGET = "/etc/caddy/Caddyfile"
# The directives this Caddyfile may use, in its global options and its site blocks (Caddy's own names).
KNOWN_DIRECTIVES = {"skip_install_trust", "tls", "reverse_proxy", "encode", "header", "log"}


@dataclass
class Block:
    """One line of a Caddyfile, with the block that follows it in braces, if any."""

    words: list[str]
    children: list[Block] = field(default_factory=list)


def parse_caddyfile(text: str) -> list[Block]:
    """Parse Caddyfile text into nested blocks; raise ValueError on unbalanced braces."""
    root = Block(words=[])
    stack = [root]
    for number, raw in enumerate(text.splitlines(), start=1):
        words = shlex.split(raw, comments=True)
        if not words:
            continue
        opens = words[-1] == "{"
        words = words[:-1] if opens else words
        if words == ["}"]:
            if len(stack) == 1:
                raise ValueError(f"line {number}: '}}' closes no block")
            stack.pop()
            continue
        if "{" in words or "}" in words:
            raise ValueError(f"line {number}: a brace must end its line or stand alone")
        block = Block(words=words)
        stack[-1].children.append(block)
        if opens:
            stack.append(block)
    if len(stack) != 1:
        raise ValueError("a block is never closed")
    return root.children


def mounted_caddyfile() -> Path:
    for volume in SERVICES["proxy"]["volumes"]:
        source, target = volume.split(":")[:2]
        if target == CADDYFILE_TARGET:
            return ROOT / source
    raise AssertionError(f"the proxy mounts no Caddyfile at {CADDYFILE_TARGET}")


CADDYFILE = parse_caddyfile(mounted_caddyfile().read_text())
GLOBAL_OPTIONS = [block for block in CADDYFILE if not block.words]
SITES = [block for block in CADDYFILE if block.words]


def site_hosts(site: Block) -> list[str]:
    """The host names a site block answers: `localhost, 127.0.0.1` -> ["localhost", "127.0.0.1"]."""
    addresses = [word.rstrip(",") for word in site.words]
    return [urlsplit(address if "//" in address else f"//{address}").hostname for address in addresses]


def directive(site: Block, name: str) -> list[str]:
    found = [block.words[1:] for block in site.children if block.words[0] == name]
    assert len(found) == 1, f"{site.words}: expected one {name} directive, found {found}"
    return found[0]


def web_port() -> int:
    """The port web listens on: scripts/serve's ADDRESS argument."""
    serve, address = SERVICES["web"]["command"]
    assert serve == "scripts/serve"
    return int(address.rsplit(":", 1)[1])


def test_the_caddyfile_parses_into_global_options_and_one_site():
    assert len(GLOBAL_OPTIONS) <= 1
    assert len(SITES) == 1


def test_the_parser_refuses_unbalanced_braces():
    with pytest.raises(ValueError):
        parse_caddyfile("localhost {\n\treverse_proxy web:8000\n")
    with pytest.raises(ValueError):
        parse_caddyfile("localhost\n}\n")


def test_every_directive_is_one_caddy_knows():
    used = {child.words[0] for block in CADDYFILE for child in block.children}
    assert used <= KNOWN_DIRECTIVES, used - KNOWN_DIRECTIVES


@pytest.mark.parametrize("site", SITES, ids=lambda site: " ".join(site.words))
def test_the_site_is_localhost_with_a_certificate_from_caddys_own_ca(site):
    assert "localhost" in site_hosts(site)
    assert directive(site, "tls") == ["internal"]


@pytest.mark.parametrize("site", SITES, ids=lambda site: " ".join(site.words))
def test_the_proxy_forwards_to_web(site):
    (upstream,) = directive(site, "reverse_proxy")
    host, port = upstream.rsplit(":", 1)
    assert host == "web"
    assert int(port) == web_port()
    assert SERVICES["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_the_proxy_is_the_way_in():
    published = [str(port) for port in SERVICES["proxy"]["ports"]]
    assert any(port.endswith(":443") for port in published)
    assert "ports" not in SERVICES["web"], "web is reached through the proxy, which gives it HTTPS"


def test_the_proxy_keeps_its_certificate_authority():
    data_volume = next(volume for volume in SERVICES["proxy"]["volumes"] if volume.split(":")[1] == "/data")
    assert data_volume.split(":")[0] in COMPOSE["volumes"], "the CA would be new (and untrusted) on every start"


@pytest.mark.parametrize("site", SITES, ids=lambda site: " ".join(site.words))
def test_the_app_answers_every_host_the_proxy_serves_and_trusts_its_origin(site):
    env = environment("web")
    allowed = {host.strip() for host in env["ALLOWED_HOSTS"].split(",")}
    trusted = {origin.strip() for origin in env["CSRF_TRUSTED_ORIGINS"].split(",")}
    for host in site_hosts(site):
        assert host in allowed
        assert f"https://{host}" in trusted
    assert env["NUM_PROXIES"] == "1"


PRINT_SECURITY = """
import json
from django.conf import settings
names = ["SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "CSRF_TRUSTED_ORIGINS"]
print(json.dumps({name: getattr(settings, name) for name in names}))
"""


def test_with_debug_off_the_app_believes_the_proxys_https_header():
    # Caddy says "https" in X-Forwarded-Proto; with DEBUG off Django believes it, so the secure-only
    # session and CSRF cookies are set and sent over https://localhost.
    result = run(["-c", PRINT_SECURITY], **DEPLOY, CSRF_TRUSTED_ORIGINS=environment("web")["CSRF_TRUSTED_ORIGINS"])
    assert result.returncode == 0, result.stderr
    security = json.loads(result.stdout.strip().splitlines()[-1])

    assert security["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert security["SESSION_COOKIE_SECURE"] and security["CSRF_COOKIE_SECURE"]
    assert "https://localhost" in security["CSRF_TRUSTED_ORIGINS"]


def test_web_serves_the_static_files_the_image_collected():
    env = environment("web")
    assert env["DEBUG"] in ("0", "false", "off", "no")
    assert "STATIC_ROOT" not in env, "web must serve from where the image collected the files"
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    collect = re.search(r"^RUN (?:.*\\\n)*.*collectstatic.*$", dockerfile, re.MULTILINE)
    assert collect, "the image does not run collectstatic"
    # With DEBUG off, so that the manifest (hashed names) and the gzip copies are made.
    assert re.search(r"\bDEBUG=(0|false|off)\b", collect.group(0))
