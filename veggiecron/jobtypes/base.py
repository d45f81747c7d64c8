"""What a job type provides, and what the rest of veggiecron may ask of its targets.

A type is found by its name (a job's `type`). The scheduler, the stores, the services and the
dashboard see a target only through `Target`, and reach the type only through `JobType`, so a new
type changes none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from ..config import Config
from ..model import CompiledJob, RunResult, Target
from ..outbound import OutboundPolicy
from ..signing import SigningBook

__all__ = ["Target"]  # defined with the records that hold it (CompiledJob.target); a type's modules take it from here

Schema = dict[str, Any]


class FailedAttempt(NamedTuple):
    """One failed attempt of a run, as the Seed metrics push counts it."""

    status: int | None
    error_class: str | None


class TypeRunner(Protocol):
    """Runs one type's targets; started before the scheduler and stopped after it."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def run(self, job: CompiledJob, due_at: float, epoch: int) -> RunResult:
        """One run of the job (all its clones and retries); never raises for the target's faults.

        epoch: which copy of the slot this is (above 1 only after another node's lease lapsed).
        """

    def observe_failed_attempts(self, observer: Callable[[FailedAttempt], None]) -> None:
        """Tell `observer` of every failed attempt, retries included."""


@dataclass(frozen=True)
class FormField:
    """One of a type's fields that the dashboard's job form shows on its own (the others are
    edited as a JSON object of options)."""

    name: str  # the key in `data`
    label: str
    required: bool = False
    choices: tuple[str, ...] = ()  # a list to choose from; empty: free text
    default: str = ""
    kind: str = "text"  # the input's type: text, url


class TokenIssuer(Protocol):
    """Signs the OIDC ID tokens requests carry (veggiecron.oidc.OidcIssuer)."""

    async def token(self, audience: str, user_id: int, job_name: str, jti: str) -> str: ...


@dataclass(frozen=True)
class TypeContext:
    """What a type is built with: the server's configuration, the outbound policy every call
    must pass, and this node's name among several (empty for a single daemon)."""

    config: Config
    outbound: OutboundPolicy
    node: str = ""
    signing: SigningBook = field(default_factory=SigningBook)  # the owners' keys requests are signed with
    oidc: TokenIssuer | None = None  # signs the OIDC tokens of jobs with data.oidc


class JobType(Protocol):
    name: str  # a job's `type`
    description: str  # a sentence for the OpenAPI document
    form_fields: tuple[FormField, ...]

    def parse(self, data: object, *, strict: bool = True) -> Target:
        """Validate a job's `data`; raise Invalid naming the first bad field (as `data.<field>`).

        strict=False reads a stored job: rules newer than the job do not stop it from running.
        """

    def data_schema(self) -> Schema:
        """The JSON Schema of `data` for this type, as the OpenAPI document publishes it."""

    def runner(self) -> TypeRunner:
        """A new runner for this type's targets (one per server)."""

    # A type whose data may hold secrets (stored sealed, see sealed.py) also has, and the
    # registry calls when present:
    #   seal(data, previous) -> data: a request's data as stored (previous: the job's stored data);
    #   map_secrets(data, change) -> data: each stored secret replaced by change(its sealed text);
    #   reseal_secrets(data, reseal) -> data: each stored secret sealed again by reseal(its sealed text);
    #   without_unknown_secrets(data) -> (data, [where]): an import's data without secrets of no value.


# What the `veggiecron.job_types` entry points name: a callable that builds the type.
JobTypeFactory = Callable[[TypeContext], JobType]
