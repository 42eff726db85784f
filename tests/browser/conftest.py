"""Browser tests drive Debian's Chromium (``/usr/bin/chromium``, installed by apt) through
Playwright, never a downloaded browser. Missing, it skips them, or fails them where
``ATALAYA_REQUIRE_BROWSER`` is set (CI)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("ATALAYA_CHROMIUM", "/usr/bin/chromium"))
# No background traffic: the machines' network is closed, and refused connections pile up.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def open_page() -> Iterator[Callable[..., Any]]:
    """Return a function opening a page in a new browser context (its keyword arguments:
    Playwright's context options, such as ``locale`` and ``viewport``)."""
    if not CHROMIUM.exists():
        if os.environ.get("ATALAYA_REQUIRE_BROWSER"):
            pytest.fail(f"browser tests are required but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)

        def open_(**options: Any) -> Any:
            return browser.new_context(**options).new_page()

        yield open_
        browser.close()
