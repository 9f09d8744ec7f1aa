"""Protocols other than HTTP through which other software reaches Speaker's voices."""
