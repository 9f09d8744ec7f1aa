"""The Wyoming protocol (Home Assistant's voice services) on Speaker's runtime and scheduler."""

from speaker.integrations.wyoming.server import WyomingServer, serve

__all__ = ["WyomingServer", "serve"]
