"""Write docs/errors.md from the catalogue of error codes (``atalaya.errors.CODES``).

python scripts/error_docs.py > docs/errors.md
"""

from __future__ import annotations

from atalaya.errors import CODES

HEADER = """# Error codes

Every error Atalaya reports carries a stable code. The API answers with an RFC 9457
`application/problem+json` body:

```json
{
  "type": "/problems/AUTH-102",
  "title": "Wrong username or password.",
  "status": 401,
  "code": "AUTH-102",
  "detail": "Wrong username or password.",
  "instance": "/api/v1/auth/token",
  "request_id": "5f0c9a4e2b7d4c7e9a1f3b2c6d8e0a1b",
  "errors": []
}
```

`errors` lists field problems, each `{field, code, message}`; a request with several
bad fields gets all of them at once. Messages come in the caller's language (the
signed-in user's choice, the `atalaya_lang` cookie, or `Accept-Language`). The
command line prints `CODE: message` on standard error and exits with status 1.

A code never changes meaning. New codes are added at the end of their family.

| Code | HTTP | Message (English) |
|---|---|---|"""

FOOTER = """
Families: `API` request shape and protocol; `AUTH` signing in and permissions; `ACC`
agencies, users and tokens; `REC` the validation rules of incident records (see
[records.md](records.md)); `GEO` area files; `AUD` the audit log; `BAK` backups;
`OBS` the observatory's imports and queries (see [observatory.md](observatory.md))."""


def page() -> str:
    rows = [f"| `{code}` | {status} | {message} |" for code, (status, message) in CODES.items()]
    return "\n".join([HEADER, *rows, FOOTER]) + "\n"


if __name__ == "__main__":
    print(page(), end="")
