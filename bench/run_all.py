"""Run every benchmark in this folder, one after another (each prints its own ratios).

.venv/bin/python bench/run_all.py [name ...]   # e.g. pages pdf
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["pages", "pdf", "tracking", "comments_stream"]


def main(argv: list[str]) -> int:
    failed = []
    for name in argv or BENCHMARKS:
        script = HERE / f"bench_{name}.py"
        print(f"\n=== {script.name} ===", flush=True)
        if subprocess.run([sys.executable, str(script)], check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nmissed targets or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
