"""The HTTP layer: translates requests into service calls and back."""
