"""The whole suite, quickly: `python -m tests [pytest options]`.

Most tests wait on real time (jobs fire every second) more than they use the CPU, so they run
in parallel, in three processes (pytest-xdist). The tests marked `timing` assert how late or how
fast something happens; beside other tests on a 2-core machine they would measure the others, so
they run afterwards, one at a time. `python -m pytest` still runs everything, in one process.
"""

from __future__ import annotations

import subprocess
import sys

WORKERS = "3"
# Idle workers take queued tests from busy ones: the suite's tests run from milliseconds to 40 s
# (the container image's), and handed out in fixed shares they left a worker running alone at the
# end (the parallel phase took 374-416 s on a 2-core machine, 323 s with worksteal).
DISTRIBUTION = "worksteal"
# Its schemathesis tests build their cases while being collected (about 15 s of the timing phase,
# which would then deselect them all); it holds no timing test (tests/unit/test_suite_phases.py).
UNTIMED_BUT_SLOW_TO_COLLECT = "tests/api/test_openapi.py"
NO_TESTS = 5  # pytest's exit code when a selection holds no test: not a failure of this run


def main(args: list[str]) -> int:
    base = [sys.executable, "-m", "pytest", *args]
    codes = [
        subprocess.run([*base, "-n", WORKERS, "--dist", DISTRIBUTION, "-m", "not timing"]).returncode,
        subprocess.run([*base, "-m", "timing", "--ignore", UNTIMED_BUT_SLOW_TO_COLLECT]).returncode,
    ]
    failed = [code for code in codes if code not in (0, NO_TESTS)]
    return failed[0] if failed else (NO_TESTS if all(code == NO_TESTS for code in codes) else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
