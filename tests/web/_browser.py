"""Playwright driving Debian's Chromium (never a downloaded browser build).

Fixtures for tests/web: import them into a test module. The browser is
installed with apt-get when /usr/bin/chromium is missing, as the project's
promise says: a test set-up installs what it needs.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# Generous waits: the machine is shared, and no test asserts speed (bench/ measures it).
expect.set_options(timeout=15_000)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def ensure_chromium() -> Path:
    """Debian's chromium, installed through apt-get when it is missing.

    xdist workers reach this at the same moment on a fresh machine: the first one
    installs under a file lock while the others wait on it, since two apt-gets at
    once fail on dpkg's lock.
    """
    if CHROMIUM.exists():
        return CHROMIUM
    with open(Path(tempfile.gettempdir()) / "sessionbox-chromium-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not CHROMIUM.exists():
            sudo = [] if os.geteuid() == 0 else ["sudo"]
            apt = shutil.which("apt-get")
            if apt is None:
                raise RuntimeError("no /usr/bin/chromium and no apt-get to install it")
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            wait = ["-o", "DPkg::Lock::Timeout=300"]  # another apt (not ours) may hold dpkg
            subprocess.run([*sudo, apt, *wait, "update"], check=True, env=env)
            subprocess.run([*sudo, apt, *wait, "install", "-y", "chromium"], check=True, env=env)
    return CHROMIUM


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(ensure_chromium()), headless=True, args=CHROMIUM_ARGS
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One browser per module: Playwright's sync API holds an asyncio loop on this thread
    while it runs, so it must be stopped before tests elsewhere call ``asyncio.run``."""
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@dataclass
class Console:
    """What the page logged. Tests that provoke an HTTP error allow its status."""

    errors: list[str] = field(default_factory=list)
    allowed_statuses: set[int] = field(default_factory=set)

    def unexpected(self) -> list[str]:
        def allowed(text: str) -> bool:
            match = re.search(r"status of (\d{3})", text)
            return bool(match) and int(match.group(1)) in self.allowed_statuses

        return [text for text in self.errors if not allowed(text)]


@pytest.fixture
def console() -> Console:
    return Console()


def _watch(page: Page, console: Console) -> None:
    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "assert"):
            console.errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: console.errors.append(f"pageerror: {exc}"))


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    """A fresh desktop browser context; the test fails on any unexpected console error."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    _watch(tab, console)
    yield tab
    context.close()
    assert console.unexpected() == []


@pytest.fixture
def new_page(browser: Browser, console: Console) -> Iterator[object]:
    """A factory for extra pages (other viewports or colour schemes), watched the same way."""
    contexts = []

    def make(**options: object) -> Page:
        context = browser.new_context(**options)  # type: ignore[arg-type]
        context.set_default_timeout(15_000)
        contexts.append(context)
        tab = context.new_page()
        _watch(tab, console)
        return tab

    yield make
    for context in contexts:
        context.close()
    assert console.unexpected() == []
