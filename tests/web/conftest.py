"""Browser fixtures for every module here: ``browser`` (Debian's Chromium, see ``_browser``)
and ``page``, a fresh context (no shared storage or cookies) per test.

Modules that also want console-error checks import the richer fixtures of ``_browser``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.web._browser import browser

__all__ = ["browser", "page"]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    yield opened
    context.close()
