"""Voices: the catalog of what a request may name."""
