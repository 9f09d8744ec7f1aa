"""Logs, metrics and timing."""
