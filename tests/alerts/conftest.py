"""Alerts tests use the federation fixtures: this node and a foreign one."""

from federation.conftest import foreign, local, peer  # noqa: F401
