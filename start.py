"""Start the veggiecron server from a clone: `python start.py [COMMAND] [options]`, as `veggiecron` does.

python start.py                      serve (the same as `veggiecron serve`)
python start.py create-admin NAME    create or promote an admin, print a new token
python start.py check-config         the effective configuration and where each value came from
"""

from __future__ import annotations

import sys

from veggiecron.cli import main, run  # noqa: F401 - run: the benchmarks start their loops with it

if __name__ == "__main__":
    sys.exit(main())
