"""The Seed Scheduler API (/api/v1/ and friends): handlers and the views of its records."""

from .handlers import routes

__all__ = ["routes"]
