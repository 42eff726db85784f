"""Accessible markup: every control has a label, pages have landmarks, colours contrast."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from accounts.test_sign_in_web import web_sign_in

CSS = Path(__file__).resolve().parents[2] / "src" / "atalaya" / "web" / "static" / "atalaya.css"


class Controls(HTMLParser):
    """Collects form controls, the labels pointing at them, landmarks and images."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[str] = []
        self.labelled: set[str] = set()
        self.tags: list[str] = []
        self.images_without_alt = 0
        self.inside_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "label":
            self.inside_label += 1
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            if self.inside_label:  # a control inside its label is labelled by it
                return
            self.controls.append(a.get("id") or "(no id)")
        if tag == "label" and a.get("for"):
            self.labelled.add(str(a["for"]))
        if tag == "img" and not a.get("alt"):
            self.images_without_alt += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.inside_label -= 1


def audit_page(html: str) -> Controls:
    parser = Controls()
    parser.feed(html)
    return parser


@pytest.mark.parametrize(
    "who,path",
    [
        (None, "/login"),
        ("alice", "/"),
        ("auditor", "/audit"),
        ("diana", "/admin/users"),
        ("bob", "/account/tokens"),
        ("bob", "/incidents"),
        ("alice", "/incidents/new"),
        ("bob", "/search"),
    ],
)
def test_pages_label_every_control_and_have_landmarks(client: TestClient, who, path) -> None:  # type: ignore[no-untyped-def]
    if who:
        web_sign_in(client, who)
    page = audit_page(client.get(path).text)
    assert page.controls, "the page should have at least the language menu"
    assert [c for c in page.controls if c not in page.labelled] == []
    for landmark in ("header", "main", "footer"):
        assert landmark in page.tags
    assert page.images_without_alt == 0


def colours() -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", CSS.read_text()))


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize(
    "fore,back", [("ink", "paper"), ("accent", "paper"), ("muted", "paper"), ("error", "paper")]
)
def test_text_colours_meet_wcag_aa_contrast(fore: str, back: str) -> None:
    palette = colours()
    assert contrast(palette[fore], palette[back]) >= 4.5


def test_white_text_on_the_header_meets_wcag_aa_contrast() -> None:
    assert contrast("#ffffff", colours()["accent"]) >= 4.5
