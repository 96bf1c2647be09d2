"""Operation summaries and descriptions with a curl and a Python example each, so the docs page
(/api/v1/docs) shows how to call every route."""

from __future__ import annotations

import json
from typing import Any

BASE = "https://billing.example.com/api/v1"


def _curl(method: str, path: str, body: Any) -> str:
    parts = [f"curl -X {method} {BASE}{path}", '  -H "Authorization: Bearer $API_KEY"']
    if method == "POST":
        parts.append('  -H "Idempotency-Key: $(uuidgen)"')
    if body is not None:
        parts.append('  -H "Content-Type: application/json"')
        parts.append(f"  -d '{json.dumps(body)}'")
    return " \\\n".join(parts)


def _python(method: str, path: str, body: Any) -> str:
    lines = [
        "import os, uuid, httpx",
        "",
        f"response = httpx.{method.lower()}(",
        f'    "{BASE}{path}",',
    ]
    headers = '{"Authorization": f"Bearer {os.environ[\'API_KEY\']}"'
    if method == "POST":
        headers += ', "Idempotency-Key": str(uuid.uuid4())'
    lines.append(f"    headers={headers}}},")
    if body is not None:
        lines.append(f"    json={body!r},")
    lines += [
        ")",
        "response.raise_for_status()",
        "print(response.json())" if method != "DELETE" else "",
    ]
    return "\n".join(line for line in lines if line or line == "")


def described(summary: str, method: str, path: str, body: Any, text: str = "") -> Any:
    """``summary`` and ``description`` keyword arguments for a route decorator."""
    description = (
        (text + "\n\n" if text else "")
        + "```sh\n"
        + _curl(method, path, body)
        + "\n```\n\n```python\n"
        + _python(method, path, body).rstrip()
        + "\n```"
    )
    return {"summary": summary, "description": description}
