"""The server-side snippets in docs/embed.md and the README compute the hash the portal checks.
Python always runs; Node.js, Ruby and PHP run when their interpreter is installed (skipped
otherwise)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from portal.embed.hashing import compute_hash

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "embed.md"
README = ROOT / "README.md"
# Each test runs the snippets of both documents (the issue asks for them in the README too).
in_each_doc = pytest.mark.parametrize("doc", [DOC, README], ids=["guide", "readme"])
SECRET = "emb_docs_test_secret"
EMAIL = "ada@example.com"


def _snippet(doc: Path, language: str) -> str:
    match = re.search(rf"```{language}\n(.*?)```", doc.read_text(), re.S)
    assert match, f"no {language} snippet in {doc}"
    return match.group(1)


def _run(command: list[str], code: str) -> dict[str, Any]:
    env = {"INVOICE_PORTAL_EMBED_SECRET": SECRET, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [*command, code], capture_output=True, text=True, env=env, timeout=30, check=True
    )
    return json.loads(result.stdout)


def _assert_hashes(plain: str, expiring: str, expires: int) -> None:
    assert plain == compute_hash(secret=SECRET, identifier=EMAIL)
    assert expiring == compute_hash(secret=SECRET, identifier=EMAIL, expires=expires)


@in_each_doc
def test_it_documents_a_working_python_snippet(doc: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("INVOICE_PORTAL_EMBED_SECRET", SECRET)
    code = _snippet(doc, "python").replace("hash_ = hmac", "plain = hmac", 1)
    namespace: dict[str, Any] = {"request": SimpleNamespace(user=SimpleNamespace(email=EMAIL))}
    exec(code, namespace)
    _assert_hashes(namespace["plain"], namespace["hash_"], namespace["expires"])


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@in_each_doc
def test_it_documents_a_working_node_snippet(doc: Path) -> None:
    code = (
        f"const req = {{ user: {{ email: {json.dumps(EMAIL)} }} }};\n"
        + _snippet(doc, "js").split("```")[0]
        + "\nconsole.log(JSON.stringify({ plain: hash, expiring: expiringHash, expires }));"
    )
    out = _run(["node", "-e"], code)
    _assert_hashes(out["plain"], out["expiring"], out["expires"])


@pytest.mark.skipif(shutil.which("ruby") is None, reason="ruby is not installed")
@in_each_doc
def test_it_documents_a_working_ruby_snippet(doc: Path) -> None:
    code = _snippet(doc, "ruby").replace("hash = OpenSSL", "plain = OpenSSL", 1)
    code = (
        'require "json"\nrequire "ostruct"\n'
        f"current_user = OpenStruct.new(email: {json.dumps(EMAIL)})\n"
        + code
        + "\nputs({plain: plain, expiring: hash, expires: expires}.to_json)"
    )
    out = _run(["ruby", "-e"], code)
    _assert_hashes(out["plain"], out["expiring"], out["expires"])


@pytest.mark.skipif(shutil.which("php") is None, reason="php is not installed")
@in_each_doc
def test_it_documents_a_working_php_snippet(doc: Path) -> None:
    code = _snippet(doc, "php").replace("$hash = hash_hmac", "$plain = hash_hmac", 1)
    code = (
        f"$user = (object) ['email' => {json.dumps(EMAIL)}];\n"
        + code
        + "\necho json_encode(['plain' => $plain, 'expiring' => $hash, 'expires' => $expires]);"
    )
    out = _run(["php", "-r"], code)
    _assert_hashes(out["plain"], out["expiring"], out["expires"])
