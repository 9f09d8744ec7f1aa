"""Admission control: refuse a stream at once when it could not be served in real time."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from speaker.errors import OverloadedError, RateLimitedError, shutting_down


@dataclass(frozen=True)
class AdmissionLimits:
    """How many streams may be in synthesis at once, in all and per client."""

    max_streams: int
    per_client: int


class Admission:
    """Counts streams in synthesis and refuses the ones beyond capacity with a Retry-After."""

    def __init__(
        self,
        limits: Callable[[], AdmissionLimits],
        retry_after: Callable[[int], float],
    ) -> None:
        self._limits = limits
        self._retry_after = retry_after
        self._lock = threading.Lock()
        self._clients: Counter[str] = Counter()
        self._draining = False

    @property
    def active(self) -> int:
        """Streams admitted and not yet finished."""
        with self._lock:
            return sum(self._clients.values())

    def drain(self) -> None:
        """Refuse all new streams from now on (shutdown)."""
        with self._lock:
            self._draining = True

    def admit(self, client: str, *, in_time: bool = True) -> Callable[[], None]:
        """Take a slot for a client's stream, or raise 503/429; returns the release function.

        `in_time` False says the queue could not finish the stream's first chunks, on top of
        the work already queued, before some listener runs out of audio: refused with 503.
        """
        limits = self._limits()
        with self._lock:
            if self._draining:
                raise shutting_down()
            active = sum(self._clients.values())
            if limits.per_client and self._clients[client] >= limits.per_client:
                wait = self._seconds(active)
                raise RateLimitedError(
                    f"this client already has {self._clients[client]} streams in synthesis; "
                    f"the limit is {limits.per_client}",
                    code="too_many_streams",
                    suggestion=f"wait for a stream to finish; retry after {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            if active >= limits.max_streams:
                wait = self._seconds(active)
                raise OverloadedError(
                    f"all {limits.max_streams} real-time stream slots are busy",
                    code="overloaded",
                    suggestion=f"retry after {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            if not in_time:
                wait = self._seconds(active)
                raise OverloadedError(
                    "the engines are behind: another stream now would leave a listener "
                    "without audio",
                    code="overloaded",
                    suggestion=f"retry after {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            self._clients[client] += 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if not released:
                    released = True
                    self._clients[client] -= 1
                    if self._clients[client] <= 0:
                        del self._clients[client]

        return release

    def _seconds(self, active: int) -> int:
        return max(1, math.ceil(self._retry_after(active)))
