"""What the browser tests share: Debian's chromium driven headless through Playwright, and where screenshots go.

Importing this skips the importing test module, with the reason, where
Playwright or chromium is missing (.ci/install-browser installs chromium).
"""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: pip install -e '.[dev]'")

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(
        f"no chromium at {CHROMIUM}: run .ci/install-browser (apt-get install chromium) or set CHROMIUM",
        allow_module_level=True,
    )

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 20_000  # the longest any step may take before the test fails


@contextmanager
def chromium_page(width: int, height: int) -> Iterator:
    """A page of a fresh headless chromium, every step and expectation bounded by WAIT_MS; closed after."""
    ARTIFACTS.mkdir(exist_ok=True)
    sync_api.expect.set_options(timeout=WAIT_MS)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(WAIT_MS)
            yield page
        finally:
            browser.close()
