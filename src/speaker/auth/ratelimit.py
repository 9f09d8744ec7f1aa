"""Per-key rate limits: requests and input characters per minute, in memory or in Redis.

Built on `limits` rather than slowapi: slowapi decorates routes one by one and counts requests,
while Speaker limits every route from one place (the auth middleware, which sees WebSockets
too) and charges characters by the length of the text, which only the route that reads the
body knows.

Each limit is a fixed one-minute window opened by the first request in it: one counter per key
and kind, so a hit costs the same whatever its number of characters (a moving window stores one
entry per unit), and the reset time is exact, so `Retry-After` is honest. The price is that a
client may spend up to two windows' worth across a boundary. With SPEAKER_REDIS_URL set the
counters live in Redis and every replica spends from the same budget.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Literal

from limits import RateLimitItemPerMinute
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

log = logging.getLogger(__name__)

Kind = Literal["requests", "characters"]


@dataclass(frozen=True)
class Quota:
    """Whose budget a request spends, and how large it is per minute (0: unlimited)."""

    identity: str
    """`key:<id>` for a key, `addr:<address>` when auth is not enforced."""
    requests_per_minute: int
    characters_per_minute: int

    def per_minute(self, kind: Kind) -> int:
        """The limit of one kind."""
        return self.requests_per_minute if kind == "requests" else self.characters_per_minute


@dataclass(frozen=True)
class Verdict:
    """The outcome of spending from one limit, and what the client is told about it."""

    kind: Kind
    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    """Seconds until the window resets to the full limit."""

    @property
    def retry_after(self) -> int:
        """Whole seconds to wait before the refused request can pass."""
        return max(1, math.ceil(self.reset_after))

    def headers(self) -> dict[str, str]:
        """OpenAI's `x-ratelimit-*` headers for this kind."""
        return {
            f"x-ratelimit-limit-{self.kind}": str(self.limit),
            f"x-ratelimit-remaining-{self.kind}": str(self.remaining),
            f"x-ratelimit-reset-{self.kind}": _duration(self.reset_after),
        }


def _duration(seconds: float) -> str:
    """A wait as OpenAI writes it: `250ms`, `12s`, `1m0s`."""
    if 0 < seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    minutes, rest = divmod(math.ceil(seconds), 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def storage_url(redis_url: str) -> str:
    """The `limits` storage for a Redis URL; in this process's memory without one."""
    if not redis_url:
        return "async+memory://"
    if redis_url.startswith("unix://"):
        return "async+redis+unix://" + redis_url.removeprefix("unix://")
    return f"async+{redis_url}"


class RateLimiter:
    """Spends requests and characters from per-minute budgets shared through the storage."""

    def __init__(self, redis_url: str = "") -> None:
        options = {"implementation": "redispy"} if redis_url else {}
        # Wrapped storage errors can be told apart from bugs, and let through (below).
        storage = storage_from_string(storage_url(redis_url), wrap_exceptions=True, **options)
        self._strategy = FixedWindowRateLimiter(storage)

    async def spend(self, quota: Quota, kind: Kind, amount: int = 1) -> Verdict | None:
        """Take `amount` from the budget if all of it fits; None when the kind is unlimited.

        A refused amount is not taken, so a long text that does not fit leaves room for short
        ones. When the storage cannot be reached the request passes: a Redis outage should
        slow nobody down more than it already does, and it is logged.
        """
        per_minute = quota.per_minute(kind)
        if per_minute <= 0:
            return None
        item = RateLimitItemPerMinute(per_minute)
        identifiers = ("speaker", kind, quota.identity)
        try:
            allowed = await self._strategy.test(item, *identifiers, cost=amount)
            if allowed:
                allowed = await self._strategy.hit(item, *identifiers, cost=amount)
            stats = await self._strategy.get_window_stats(item, *identifiers)
        except StorageError as exc:
            log.warning("rate limits not applied: storage unavailable: %s", exc.storage_error)
            return None
        return Verdict(
            kind=kind,
            allowed=allowed,
            limit=per_minute,
            remaining=stats.remaining,
            reset_after=max(0.0, stats.reset_time - time.time()),
        )
