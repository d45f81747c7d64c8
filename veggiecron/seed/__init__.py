"""The Seed Scheduler API's domain: its service and the validation of its fields."""

from .service import SeedService

__all__ = ["SeedService"]
