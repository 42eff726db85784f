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


# The same endpoint as a plain function, which FastAPI runs in its thread pool.
@app.get("/sync/api/v1/users/alice")
def alice_sync() -> dict[str, object]:
    return BODY
