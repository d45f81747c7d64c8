"""schemathesis hooks for `st run` (SCHEMATHESIS_HOOKS=bench.fuzz_hooks), set up by bench/fuzz.py.

Logs in as the fuzz user and keeps every URL a request carries on the loopback sink.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

from bench.fuzz import TokenAuth, confine_case

BASE_URL = os.environ["VEGGIECRON_FUZZ_BASE_URL"]
SINK_URL = os.environ["VEGGIECRON_FUZZ_SINK_URL"]


@schemathesis.auth()
class FuzzAuth(TokenAuth):
    base_url = BASE_URL


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    confine_case(case, SINK_URL)
