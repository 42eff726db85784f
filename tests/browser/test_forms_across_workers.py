"""In a real browser (Debian's Chromium through Playwright), on a phone-wide window and
against two workers: the forms whose routes now run in the thread pool (decision 0009)
work as people use them. An officer records an incident, edits it, switches to Spanish,
filters the list in Spanish and signs out; every step may land on either worker."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from atalaya.demo import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]


INCIDENT = {
    "reference": "PHONE-1", "occurred_from": "2026-11-20T22:15", "area": "MX-08-037",
    "place_type": "street", "status": "open", "narrative": "Riña con arma blanca.",
    "offences.0.iccs": "0101", "offences.0.weapon": "sharp_object",
    "persons.0.role": "victim", "persons.0.given_names": "Ana", "persons.0.surnames": "Ruiz",
    "persons.0.sex": "female", "persons.0.age": "31",
}  # fmt: skip


@pytest.fixture
def page(open_page: Callable[..., Any]) -> Any:
    return open_page(locale="es-MX", viewport={"width": 390, "height": 844})


def fill(page, fields: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    for name, value in fields.items():
        field = page.locator(f'form.record [name="{name}"]')
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def test_an_officer_records_edits_and_lists_an_incident_on_a_phone(
    page, live_server: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/login")
    page.locator('[name="username"]').fill("alice")
    page.locator('[name="password"]').fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{live_server}/")

    page.goto(f"{live_server}/incidents/new")
    fill(page, INCIDENT)
    page.locator("form.record > button[type=submit]:not([name])").last.click()
    page.wait_for_url(re.compile(r".*/incidents/\d+$"))
    incident_url = page.url
    assert "PHONE-1" in page.content() and "Ana Ruiz" in page.content()

    page.goto(f"{incident_url}/edit")
    fill(page, {"narrative": "Riña con arma blanca; la víctima fue trasladada."})
    page.locator("form.record > button[type=submit]:not([name])").last.click()
    page.wait_for_url(incident_url)
    assert "fue trasladada" in page.content()

    page.locator('form.language [name="language"]').select_option("es")
    page.locator("form.language button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "es"

    page.goto(f"{live_server}/incidents?q=trasladada")
    assert "PHONE-1" in page.content()
    # Nothing on the phone-wide page reaches past the window's right edge.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    page.screenshot(path=str(tmp_path / "list-es.png"), full_page=True)

    page.locator("form.logout button[type=submit]").click()
    page.wait_for_url("**/login")
    page.goto(f"{live_server}/incidents")
    page.wait_for_url("**/login")
