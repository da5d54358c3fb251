"""Browser fixtures: Debian's Chromium driven by Playwright (never a downloaded browser).

``browser`` is one Chromium per test module; ``page`` a fresh context (no shared
storage or cookies) per test. Module scope, not session: Playwright's sync API keeps an
asyncio loop running on the main thread while it is open, which would break tests in other
modules that call ``asyncio.run``. When /usr/bin/chromium is missing, the fixture
installs Debian's package with apt-get.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def ensure_chromium() -> Path:
    if not CHROMIUM.exists():
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        apt = shutil.which("apt-get")
        if apt is None:
            raise RuntimeError("Chromium is missing and apt-get is not available to install it")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([*sudo, apt, "update"], check=True, env=env)
        subprocess.run([*sudo, apt, "install", "-y", "chromium"], check=True, env=env)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = ensure_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    yield opened
    context.close()
