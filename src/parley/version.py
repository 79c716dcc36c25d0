"""Parley's version: one place, read by the package, the API (/api/info) and the CLI."""

__version__ = "0.1.0"
