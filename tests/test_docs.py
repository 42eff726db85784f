"""The documentation tells the truth: every command, setting and error code is in it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from atalaya.errors import CODES
from atalaya.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def test_every_error_code_is_documented() -> None:
    text = (DOCS / "errors.md").read_text()
    missing = [code for code in CODES if f"`{code}`" not in text]
    assert missing == []


def test_every_setting_is_documented() -> None:
    text = (DOCS / "operations.md").read_text()
    missing = [name for name in Settings.model_fields if f"`ATALAYA_{name.upper()}`" not in text]
    assert missing == []


def test_the_command_reference_matches_the_commands() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from cli_docs import page

    assert (DOCS / "cli.md").read_text() == page(), "run: python scripts/cli_docs.py > docs/cli.md"


def test_every_api_route_is_listed_in_the_api_page(app) -> None:  # type: ignore[no-untyped-def]
    text = (DOCS / "api.md").read_text()
    paths = {re.sub(r"\{\w+\}", "{", p) for p in app.openapi()["paths"] if p.startswith("/api/v1/")}
    documented = {re.sub(r"\{\w+\}", "{", p) for p in re.findall(r"(/api/v1/[\w/{}]+)", text)}
    assert paths - documented == set()


def test_the_readme_gives_the_two_command_quick_start() -> None:
    text = (ROOT / "README.md").read_text()
    assert "make run" in text and "make test" in text
