"""Winnow: choose the data worth training on."""

__version__ = "0.1.0"
