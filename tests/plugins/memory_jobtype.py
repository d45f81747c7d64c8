"""A job type that lives outside the veggiecron package, as a plugin's would: each run is
recorded in the server's memory and answered at once, and nothing is sent anywhere.

The directory beside this file is the plugin's installed metadata (a dist-info with an
entry_points.txt in the `veggiecron.job_types` group): a server started with this directory on
its PYTHONPATH finds the type exactly as it finds one installed with pip.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from veggiecron.errors import Invalid
from veggiecron.jobtypes.base import FailedAttempt, FormField, TypeContext
from veggiecron.model import CompiledJob, RunOutcome, RunResult


@dataclass(frozen=True, slots=True)
class MemoryTarget:
    job_type: ClassVar[str] = "memory"

    note: str
    fail: bool = False
    timeout: float = 5.0
    number_of_clones: int = 1
    enable_shadows: bool = False

    @property
    def lane(self) -> str | None:
        return None

    @property
    def hosts(self) -> tuple[str, ...]:
        return ()


class MemoryRunner:
    def __init__(self) -> None:
        self.calls: list[tuple[int, float, int]] = []  # (job id, due_at, epoch) of every run
        self._observers: list[Callable[[FailedAttempt], None]] = []

    async def start(self) -> None:
        self.calls.clear()

    async def stop(self) -> None:
        pass

    async def run(self, job: CompiledJob, due_at: float, epoch: int) -> RunResult:
        target = job.target
        assert isinstance(target, MemoryTarget)
        self.calls.append((job.id, due_at, epoch))
        now = time.time()
        if target.fail:
            for observer in self._observers:
                observer(FailedAttempt(None, "memory"))
            return RunResult(RunOutcome.FAILED, now, 0.0, 1, None, "asked to fail", None, "memory")
        excerpt = f"memory call {len(self.calls)}: {target.note}"
        return RunResult(RunOutcome.OK, now, 0.0, 1, None, None, excerpt)

    def observe_failed_attempts(self, observer: Callable[[FailedAttempt], None]) -> None:
        self._observers.append(observer)


class MemoryJobType:
    name = "memory"
    description = "What each run records (the memory job type, for the tests)."
    form_fields = (FormField("note", "Note", required=True),)

    def __init__(self, context: TypeContext) -> None:
        self.context = context

    def parse(self, data: object, *, strict: bool = True) -> MemoryTarget:
        if not isinstance(data, dict):
            raise Invalid("data", "data must be a JSON object")
        for key in data:
            if key not in ("note", "fail"):
                raise Invalid(f"data.{key}", f"unknown field data.{key}; memory jobs take: note, fail")
        note = data.get("note")
        if not isinstance(note, str) or not 1 <= len(note) <= 100:
            raise Invalid("data.note", "data.note must be a string of 1 to 100 characters")
        fail = data.get("fail", False)
        if not isinstance(fail, bool):
            raise Invalid("data.fail", "data.fail must be true or false")
        return MemoryTarget(note, fail)

    def data_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "note": {"type": "string", "minLength": 1, "maxLength": 100},
                "fail": {"type": "boolean", "default": False},
            },
            "required": ["note"],
            "additionalProperties": False,
        }

    def runner(self) -> MemoryRunner:
        return MemoryRunner()
