"""python -m veggiecron: the same as the `veggiecron` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
