"""Settings: read from the environment, with a secret key made once and kept private."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from atalaya.settings import Settings, _create_secret_file


def test_settings_come_from_atalaya_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ATALAYA_DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("ATALAYA_LANGUAGE", "pt")
    monkeypatch.setenv("ATALAYA_MAX_BODY_BYTES", "2048")
    settings = Settings()
    assert (settings.database_url, settings.language, settings.max_body_bytes) == (
        "sqlite:///x.db",
        "pt",
        2048,
    )


def test_an_unknown_language_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATALAYA_LANGUAGE", "de")
    with pytest.raises(ValueError, match="language"):
        Settings()


def test_a_missing_secret_key_is_generated_once_and_private(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path, secret_key=None).secret
    second = Settings(data_dir=tmp_path, secret_key=None).secret
    assert first == second and len(first) >= 48
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_two_processes_creating_the_key_agree(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    _create_secret_file(path)
    kept = path.read_text()
    _create_secret_file(path)
    assert path.read_text() == kept
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_a_named_secret_key_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _ = Settings(secret_key=None, secret_key_file=tmp_path / "missing").secret


def test_trusted_proxies_are_comma_separated_addresses_or_networks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ATALAYA_TRUSTED_PROXIES", raising=False)
    assert Settings().trusted_proxies == []
    monkeypatch.setenv("ATALAYA_TRUSTED_PROXIES", "10.0.0.5, 10.1.0.0/16,::1")
    assert [str(n) for n in Settings().trusted_proxies] == ["10.0.0.5/32", "10.1.0.0/16", "::1/128"]
    monkeypatch.setenv("ATALAYA_TRUSTED_PROXIES", "10.0.0.5, proxy.example")
    with pytest.raises(ValueError, match="trusted_proxies"):
        Settings()
