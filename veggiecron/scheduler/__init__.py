"""The scheduler: a loop over a heap of due times, the lane gate, failure tracking, the window loader."""

from .loop import Scheduler
from .ports import Runner

__all__ = ["Runner", "Scheduler"]
