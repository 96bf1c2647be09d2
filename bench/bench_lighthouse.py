"""Lighthouse on the customer pages, as `make run` serves them (scripts/run-local.sh: the demo
data, the Stripe emulator, collected static files, one granian process): the invoice page and
the portal, with Lighthouse's mobile and desktop settings, in headless Debian Chromium.

    .venv/bin/python bench/bench_lighthouse.py [--port 8800] [--keep-reports DIR]

Prints the four category scores of each page and preset; exits 1 when performance,
accessibility or best practices is under 100 on any of them (SEO is printed only: customer
pages say "noindex" on purpose). The database is DATABASE_URL when set, else a throw-away
SQLite file. Needs `npm ci` (Lighthouse is a devDependency) and /usr/bin/chromium; nothing
leaves the machine (Chromium's background networking is off)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
CHROME_FLAGS = " ".join(
    (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    )
)
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
GATED = ("performance", "accessibility", "best-practices")
PRESETS = ("mobile", "desktop")


def _start_demo(port: int, database_url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {
        **os.environ,
        "PORT": str(port),
        "EMULATOR_PORT": str(port + 1),
        "DATABASE_URL": database_url,
        "DEBUG": "1",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "lighthouse-only-secret-key-0123456789abcdef"),
    }
    env.pop("PUBLIC_BASE_URL", None)  # links on this server's own port
    process = subprocess.Popen(
        ["bash", "scripts/run-local.sh"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped whole at the end
    )
    deadline = time.monotonic() + 600  # the first start collects and compresses static files
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "Ctrl-C stops everything." in text:
            return process, text
        if process.poll() is not None:
            raise SystemExit(f"the demo server did not start:\n{text[-3000:]}")
        time.sleep(1)
    _stop(process)
    raise SystemExit(f"the demo server did not start within 10 minutes; see {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _pages(banner: str) -> dict[str, str]:
    """The first demo invoice and the portal from the links the demo prints."""
    invoice = re.search(r"invoice [^:]+: (http://\S+/invoice/\S+)", banner)
    portal = re.search(r"portal of [^:]+: (http://\S+/portal/\S+)", banner)
    if not invoice or not portal:
        raise SystemExit(f"no demo links in the server's output:\n{banner[-3000:]}")
    return {"invoice": invoice.group(1), "portal": portal.group(1)}


def _warm(url: str) -> None:
    """One request first, so the scores measure the page and not the process's first one."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with contextlib.suppress(urllib.error.HTTPError):
        opener.open(url, timeout=30).close()


def _lighthouse(url: str, preset: str, report: Path) -> dict[str, Any]:
    command = [
        str(LIGHTHOUSE),
        url,
        "--output=json",
        f"--output-path={report}",
        "--quiet",
        f"--chrome-flags={CHROME_FLAGS}",
    ]
    if preset == "desktop":
        command.append("--preset=desktop")
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0 or not report.exists():
        raise SystemExit(f"Lighthouse failed on {url} ({preset}):\n{result.stderr[-3000:]}")
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def _failures(data: dict[str, Any], category: str) -> list[str]:
    """The audits that cost points in a category, for the reader of a missed target."""
    names = []
    for ref in data["categories"][category]["auditRefs"]:
        audit = data["audits"][ref["id"]]
        if ref["weight"] > 0 and audit["score"] is not None and audit["score"] < 1:
            names.append(f"{ref['id']} ({audit.get('displayValue') or audit['score']})")
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8800, help="the server's; the emulator's +1")
    parser.add_argument("--keep-reports", type=Path, help="write the JSON reports there")
    args = parser.parse_args()
    for needed in (LIGHTHOUSE, Path(CHROMIUM)):
        if not needed.exists():
            print(f"{needed} is missing (npm ci; apt-get install chromium)", file=sys.stderr)
            return 2

    with tempfile.TemporaryDirectory(prefix="bench-lighthouse-") as tmp:
        reports = args.keep_reports or Path(tmp)
        reports.mkdir(parents=True, exist_ok=True)
        database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/lighthouse.sqlite3"
        process, banner = _start_demo(args.port, database_url, Path(tmp) / "server.log")
        try:
            pages = _pages(banner)
            missed = []
            print(
                f"{'page':8} {'preset':8} "
                + " ".join(f"{c:>15}" for c in CATEGORIES)
                + "  machine (Lighthouse's benchmark index)"
            )
            for name, url in pages.items():
                _warm(url)
                for preset in PRESETS:
                    data = _lighthouse(url, preset, reports / f"{name}-{preset}.json")
                    scores = {c: round(data["categories"][c]["score"] * 100) for c in CATEGORIES}
                    # Under about 1000 the machine was busy: the mobile preset slows the CPU
                    # down 4x on top, so a busy neighbour shows as total blocking time.
                    index = round(data["environment"]["benchmarkIndex"])
                    print(
                        f"{name:8} {preset:8} "
                        + " ".join(f"{scores[c]:>15}" for c in CATEGORIES)
                        + f"  {index}",
                        flush=True,
                    )
                    for category in GATED:
                        if scores[category] < 100:
                            lost = ", ".join(_failures(data, category))
                            missed.append(f"{name} {preset} {category} {scores[category]}: {lost}")
        finally:
            _stop(process)
    for line in missed:
        print(f"MISSED {line}")
    print("OK: 100 in performance, accessibility and best practices" if not missed else "")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
