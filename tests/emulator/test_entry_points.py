"""How the emulator is run and where it may be imported from: ``python -m stripe_emulator`` and its
alias ``manage.py stripe_emulator``; no Django inside it; and no app importing it, so the
production image (which leaves ``stripe_emulator/`` out) works without it."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .conftest import http

ROOT = Path(__file__).resolve().parents[2]
# Development code that may use the emulator; everything else is the product.
DEVELOPMENT = {"tests", "bench", "scripts", "stripe_emulator"}
SKIPPED = {".venv", "node_modules", ".git", "__pycache__", "test-artifacts", "media"}


@contextmanager
def _running(*command: str) -> Iterator[str]:
    """Start ``command`` (which serves the emulator on port 0) in ROOT; yield its base URL."""
    process = subprocess.Popen(
        [sys.executable, *command],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, process.kill)
    watchdog.start()
    try:
        first_line = process.stdout.readline() if process.stdout else ""
        watchdog.cancel()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first_line)
        assert match, (first_line, process.stderr.read() if process.stderr else "")
        yield match.group(1)
    finally:
        watchdog.cancel()
        process.terminate()
        process.communicate(timeout=10)


def _assert_serves(base_url: str) -> None:
    status, _, body = http("GET", base_url + "/_emulator/webhook_endpoints")
    assert (status, json.loads(body)) == (200, {"data": []})
    status, headers, _ = http("GET", base_url + "/v3/stripe.js")
    assert status == 200
    assert "javascript" in headers["Content-Type"]


def test_it_runs_as_a_module() -> None:
    with _running("-m", "stripe_emulator", "--port", "0") as base_url:
        _assert_serves(base_url)


def test_manage_py_runs_the_same_entry_point() -> None:
    with _running("manage.py", "stripe_emulator", "--port", "0") as base_url:
        _assert_serves(base_url)


def test_it_imports_nothing_of_django_or_the_apps() -> None:
    code = (
        "import importlib, pkgutil, sys, stripe_emulator\n"
        "for module in pkgutil.iter_modules(stripe_emulator.__path__):\n"
        "    importlib.import_module('stripe_emulator.' + module.name)\n"
        "apps = ('django', 'invoices', 'payments', 'portal', 'portal_project', 'preferences',"
        " 'tracking')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in apps))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# As in the production image: ``stripe_emulator`` cannot be imported at all.
WITHOUT_THE_EMULATOR = """
import runpy, sys

class NoEmulator:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] == "stripe_emulator":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoEmulator)
sys.argv = ["manage.py", *sys.argv[1:]]
runpy.run_path("manage.py", run_name="__main__")
"""


def test_manage_py_help_works_without_the_emulator() -> None:
    # Imports the command module (``manage.py help`` alone only lists the names).
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_THE_EMULATOR, "help", "stripe_emulator"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "--port" in result.stdout


def test_the_alias_says_plainly_when_the_emulator_is_not_installed() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_THE_EMULATOR, "stripe_emulator"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "development tool" in result.stderr
    assert "Traceback" not in result.stderr


def _imports_of(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def _product_sources() -> Iterator[Path]:
    for directory, subdirectories, files in os.walk(ROOT):
        here = Path(directory).relative_to(ROOT)
        subdirectories[:] = [
            name
            for name in subdirectories
            if name not in SKIPPED and not (here == Path(".") and name in DEVELOPMENT)
        ]
        yield from (here / name for name in files if name.endswith(".py"))


def test_nothing_outside_development_code_imports_it() -> None:
    # The manage.py alias runs ``python -m stripe_emulator`` in its place: no import either.
    importers = []
    for relative in _product_sources():
        modules = set(_imports_of(ROOT / relative))
        if any(m.split(".")[0] == "stripe_emulator" for m in modules):
            importers.append(relative)
        assert not any(m.startswith("payments.emulator") for m in modules), relative
    assert importers == []
