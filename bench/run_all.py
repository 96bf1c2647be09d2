"""Run every benchmark in this folder, one after another (each prints its own figures and
ratios and exits 1 when it misses a target); exits 1 when any missed or failed.

.venv/bin/python bench/run_all.py [name ...]   # e.g. pages scale
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import bulkdata

HERE = Path(__file__).resolve().parent
# bench_<name>.py, in this order. A name whose script is not (yet) in the folder is reported
# and skipped, so a benchmark can be listed before its script lands.
BENCHMARKS = ["pages", "scale", "pdf", "tracking", "comments_stream", "webhooks", "lighthouse"]
# What a benchmark that needs PostgreSQL and Redis gets when DATABASE_URL / REDIS_URL are not
# set (the page and scale benchmarks choose their own databases).
NEEDS_SERVICES = {"comments_stream", "tracking"}
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_runs"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def environment(name: str) -> dict[str, str]:
    env = dict(os.environ)
    if name in NEEDS_SERVICES:
        if not env.get("DATABASE_URL", "").startswith("postgres"):
            env["DATABASE_URL"] = DEFAULT_DATABASE_URL
            bulkdata.ensure_database(DEFAULT_DATABASE_URL)
        env.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    return env


def main(argv: list[str]) -> int:
    failed: list[str] = []
    took: list[str] = []
    for name in argv or BENCHMARKS:
        script = HERE / f"bench_{name}.py"
        if not script.exists():
            print(f"\n=== {script.name}: not in this checkout, skipped ===", flush=True)
            if argv:  # asked for by name: that is a failure
                failed.append(name)
            continue
        print(f"\n=== {script.name} ===", flush=True)
        started = time.monotonic()
        run = subprocess.run([sys.executable, str(script)], env=environment(name), check=False)
        if run.returncode != 0:
            failed.append(name)
        took.append(f"{name} {time.monotonic() - started:.0f} s")
    print(f"\ntook: {', '.join(took)}")
    if failed:
        print(f"missed targets or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
