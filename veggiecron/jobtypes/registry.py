"""The job types this server knows, found through the `veggiecron.job_types` entry-point group.

Every type, the built-in http type included, is an entry point naming a factory that takes a
TypeContext (see base.py), so a package outside this repository adds a type by declaring one:

    [project.entry-points."veggiecron.job_types"]
    ftp = "veggiecron_ftp:FtpJobType"

A source checkout that was never installed has no entry-point metadata of its own; the built-in
entry points are then read from BUILT_IN, the same lines pyproject.toml declares.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from ..calendar_book import CalendarBook
from ..errors import Invalid
from .base import FailedAttempt, JobType, Target, TypeContext, TypeRunner

if TYPE_CHECKING:
    from ..model import CompiledJob, RunResult

logger = logging.getLogger(__name__)

GROUP = "veggiecron.job_types"
# Kept equal to pyproject.toml's entry points by tests/unit/test_job_types.py.
BUILT_IN = {"http": "veggiecron.jobtypes.http.jobtype:HttpJobType"}
DEFAULT_TYPE = "http"  # a job created without a `type`
# Notifications (notify_url) and Seed's webhooks are JSON posts: this type's runner sends them.
NOTIFYING_TYPE = "http"


class JobTypeError(Exception):
    """The job types cannot be loaded (two packages claim one name, or one fails to import)."""


def discovered() -> dict[str, EntryPoint]:
    """The entry points of the group by type name, the built-in ones added where not installed."""
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=GROUP):
        if point.name in found and found[point.name].value != point.value:
            raise JobTypeError(
                f"job type {point.name!r} is declared twice: by {found[point.name].value} and by {point.value}"
            )
        found[point.name] = point
    for name, value in BUILT_IN.items():
        found.setdefault(name, EntryPoint(name, value, GROUP))
    return found


class JobTypes:
    """The loaded types by name: what the jobs service, the compiler and the pages look types up in."""

    def __init__(self, types: Iterable[JobType]) -> None:
        # The calendars a job's skip_calendars name: every place that compiles a job holds the
        # types already, so the calendars' days travel with them (compiling reads no database).
        self.calendars = CalendarBook()
        self._types: dict[str, JobType] = {}
        for job_type in types:
            self._types[job_type.name] = job_type
        if DEFAULT_TYPE not in self._types:
            raise JobTypeError(f"the built-in job type {DEFAULT_TYPE!r} is missing")

    @classmethod
    def load(cls, context: TypeContext, points: Mapping[str, EntryPoint] | None = None) -> JobTypes:
        types = []
        for name, point in sorted((points if points is not None else discovered()).items()):
            try:
                factory = point.load()
                job_type = factory(context)
            except Exception as exc:
                raise JobTypeError(f"job type {name!r} ({point.value}) cannot be loaded: {exc}") from exc
            if job_type.name != name:
                raise JobTypeError(f"job type {name!r} ({point.value}) calls itself {job_type.name!r}")
            types.append(job_type)
        return cls(types)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._types)

    def get(self, name: object) -> JobType:
        """The type named; Invalid("type") for any other value."""
        job_type = self._types.get(name) if isinstance(name, str) else None
        if job_type is None:
            raise Invalid("type", f"type must be one of: {', '.join(self._types)}")
        return job_type

    def parse(self, name: str, data: object, *, strict: bool = True) -> Target:
        """A job's data parsed by its type."""
        return self.get(name).parse(data, strict=strict)

    def seal(self, name: str, data: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
        """A request's data as stored: its secrets sealed (see JobType)."""
        seal = getattr(self.get(name), "seal", None)
        return data if seal is None else seal(data, previous)

    def map_secrets(self, name: str, data: dict[str, Any], change: Callable[[str], Any]) -> dict[str, Any]:
        """Stored data with each secret replaced by change(its sealed text)."""
        job_type = self._types.get(name)
        mapper = getattr(job_type, "map_secrets", None)
        return data if mapper is None else mapper(data, change)

    def reseal(self, name: str, data: dict[str, Any], reseal: Callable[[str], str]) -> dict[str, Any]:
        """Stored data with each secret sealed again by reseal(its sealed text) (rotate-secrets-key)."""
        job_type = self._types.get(name)
        resealer = getattr(job_type, "reseal_secrets", None)
        return data if resealer is None else resealer(data, reseal)

    def shown(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        """Stored data as answered, shown and logged: each secret as {"secret": "set"}."""
        return self.map_secrets(name, data, _shown)

    def sealed_in(self, name: str, data: dict[str, Any]) -> list[str]:
        """The sealed texts stored data holds."""
        found: list[str] = []
        self.map_secrets(name, data, found.append)
        return found

    def without_unknown_secrets(self, name: str, data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """An imported job's data without the secrets its file holds no value for, and where they were."""
        strip = getattr(self.get(name), "without_unknown_secrets", None)
        return (data, []) if strip is None else strip(data)

    def __iter__(self) -> Iterator[JobType]:
        return iter(self._types.values())

    def runners(self) -> JobRunners:
        return JobRunners({name: job_type.runner() for name, job_type in self._types.items()})


def _shown(sealed: str) -> dict[str, str]:
    return {"secret": "set"}


class Notifying(TypeRunner):
    async def notify(
        self, url: str, body: object, headers: dict[str, str], timeout: float, owner: int | None = None
    ) -> str | None: ...


class JobRunners:
    """Every type's runner behind one port: the scheduler hands each run to its target's type."""

    def __init__(self, runners: Mapping[str, TypeRunner]) -> None:
        self._runners = dict(runners)
        notifying = self._runners[NOTIFYING_TYPE]
        assert hasattr(notifying, "notify")
        self._notifying: Notifying = notifying  # type: ignore[assignment]

    async def start(self) -> None:
        for runner in self._runners.values():
            await runner.start()

    async def stop(self) -> None:
        for runner in self._runners.values():
            await runner.stop()

    async def run(self, job: CompiledJob, due_at: float, epoch: int = 1) -> RunResult:
        return await self._runners[job.target.job_type].run(job, due_at, epoch)

    async def notify(
        self, url: str, body: object, headers: dict[str, str], timeout: float, owner: int | None = None
    ) -> str | None:
        """POST a small JSON event once; None when delivered, else why not."""
        return await self._notifying.notify(url, body, headers, timeout, owner)

    def observe_failed_attempts(self, observer: Callable[[FailedAttempt], None]) -> None:
        for runner in self._runners.values():
            runner.observe_failed_attempts(observer)
