"""Imports every domain's models, so that ``Base.metadata`` knows all tables."""

from __future__ import annotations


def load_all() -> None:
    import atalaya.accounts.models
    import atalaya.alerts.models
    import atalaya.audit.models
    import atalaya.federation.models
    import atalaya.geo.models
    import atalaya.observatory.models
    import atalaya.records.models  # noqa: F401
