"""Whatever a client sends that the OpenAPI description allows, or nearly allows, the API
answers with a problem or a success, never a server error (schemathesis generates the
requests; the admin's token makes them reach the code behind authentication)."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

pytestmark = pytest.mark.slow


def test_no_generated_request_makes_the_api_fail(app, auth) -> None:  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    headers = auth("admin")
    # Revoking a token is tested on its own (tests/accounts): fuzzed, it would sooner or
    # later guess the id of the run's own token and refuse the rest of the run.
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if (op.method.upper(), op.path) != ("DELETE", "/api/v1/tokens/{token_id}")
    ]
    assert len(operations) >= 10
    statuses: list[int] = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def answers_without_server_error(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(headers={**(case.headers or {}), **headers})
            statuses.append(response.status_code)
            assert response.status_code < 500, (case.operation.label, response.text)
            if response.status_code >= 400:
                assert response.headers["content-type"] == ["application/problem+json"]
                assert response.json()["code"]

        answers_without_server_error()

    # The generated requests reached both the happy paths and the refusals.
    assert any(200 <= s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses)
    assert len(statuses) > 100
    # The run's token worked to the end.
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert client.get("/api/v1/me", headers=headers).status_code == 200
