"""In a real browser (Debian's Chromium through Playwright): sign in with TOTP, switch
to Spanish, and see the home page translated."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest

from atalaya.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def page(open_page: Callable[..., Any]) -> Any:
    return open_page(locale="en-US")


def test_the_administrator_signs_in_with_totp_and_reads_spanish(
    page, live_server: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/login")
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/login/totp")
    page.get_by_label("Authenticator code").fill(pyotp.TOTP(DEMO_TOTP_SECRET).now())
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_server}/")
    assert "Administración Atalaya" in page.get_by_role("heading", level=1).inner_text()

    page.get_by_label("Language").select_option("es")
    page.get_by_role("button", name="Change language").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "es"
    heading = page.get_by_role("heading", level=1).inner_text()
    assert heading.startswith("Bienvenido")
    assert page.get_by_role("button", name="Cerrar sesión").is_visible()
    page.screenshot(path=str(tmp_path / "home-es.png"), full_page=True)
