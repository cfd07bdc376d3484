"""The package version (setup.py holds the same)."""

__version__ = "0.1.0"
