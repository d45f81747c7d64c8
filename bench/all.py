"""The quick case of every benchmark, as one JSON object, to compare figures commit to commit.

    python -m bench.all --json        # about ten minutes on a 2-core machine
    python -m bench.all               # the same, with each benchmark's table as it finishes

Each benchmark runs in a process of its own (`python -m bench.<name> --quick --json`); their
figures are keyed by name, with the commit and the machine they were measured on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from typing import Any

from tests.daemon import ROOT

BENCHES = ("dispatch", "api", "scale", "cluster", "ui")


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_bench(name: str) -> dict[str, Any]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--quick", "--json"], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"}
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["bench_seconds"] = round(time.monotonic() - started, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print only the one JSON object")
    parser.add_argument("--only", nargs="*", choices=BENCHES, help="run these benchmarks only")
    args = parser.parse_args()
    figures: dict[str, Any] = {
        "commit": commit(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    for name in args.only or BENCHES:
        if not (ROOT / "bench" / f"{name}.py").exists():
            continue
        figures[name] = run_bench(name)
        if not args.json:
            print(f"{name}: {json.dumps(figures[name])}", flush=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
