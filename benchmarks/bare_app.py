"""The baseline for api_throughput.py: a bare FastAPI endpoint returning the same JSON
as ``GET /api/v1/users/alice``, with no database, authentication or audit."""

from fastapi import FastAPI

app = FastAPI()
BODY = {
    "username": "alice",
    "full_name": "Alicia Hernández",
    "agency": "MX-SSPM-JUA",
    "roles": ["officer"],
    "active": True,
    "second_factor": False,
}


@app.get("/api/v1/users/alice")
async def alice() -> dict[str, object]:
    return BODY
