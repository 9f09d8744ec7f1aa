"""Secure by default: a server reachable from the network must ask for API keys."""

from __future__ import annotations

import ipaddress
from typing import Literal

AuthMode = Literal["auto", "on", "off"]


class ExposedWithoutKeysError(Exception):
    """The server would listen beyond loopback with nothing protecting it."""


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach: 127.0.0.0/8, ::1 and `localhost`."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        # A host name other than localhost may resolve to anything.
        return False


def check_exposure(host: str, auth: AuthMode, active_keys: int) -> str | None:
    """Refuse to serve `host` unprotected; return a warning to log when the setup is risky.

    Beyond loopback with no active key, auth `auto` would let anyone in and auth `on` would let
    no one in, so both refuse; only an explicit `off` starts, with a warning.
    """
    if is_loopback(host):
        if auth == "on" and active_keys == 0:
            return (
                "SPEAKER_AUTH=on but no API key exists: every request will get 401; "
                "create one with `speaker keys create --name NAME --role admin`"
            )
        return None
    if auth == "off":
        return (
            f"listening on {host} with SPEAKER_AUTH=off: anyone who can reach this address "
            "can use the API"
        )
    if active_keys == 0:
        raise ExposedWithoutKeysError(
            f"refusing to listen on {host} without an API key: anyone who can reach it could "
            "use the API.\n"
            "  create a key first:  speaker keys create --name admin --role admin\n"
            "  or listen on loopback only:  speaker serve --host 127.0.0.1\n"
            "  or, behind your own authentication, turn API keys off:  SPEAKER_AUTH=off"
        )
    return None
