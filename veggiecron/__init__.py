"""Veggiecron: a server that schedules HTTP jobs over a REST API."""

__version__ = "0.1.0"
