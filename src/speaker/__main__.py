"""`python -m speaker` runs the CLI."""

from speaker.cli import app

app()
