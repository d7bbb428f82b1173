"""Shared test support: fakes behind the core's ports (fakes.py)."""
