"""Rate limits on the `limits` library: in memory, and shared through a real Redis."""

from __future__ import annotations

import asyncio

from speaker.auth.ratelimit import Quota, RateLimiter, Verdict, storage_url
from tests.servers import RedisServer


def test_requests_are_counted_per_identity_with_headers() -> None:
    async def run() -> None:
        limiter = RateLimiter()
        quota = Quota("key:a", requests_per_minute=2, characters_per_minute=0)
        first = await limiter.spend(quota, "requests")
        second = await limiter.spend(quota, "requests")
        third = await limiter.spend(quota, "requests")
        assert first is not None
        assert second is not None
        assert third is not None
        assert (first.allowed, second.allowed, third.allowed) == (True, True, False)
        assert [v.remaining for v in (first, second, third)] == [1, 0, 0]
        assert 1 <= third.retry_after <= 60
        headers = third.headers()
        assert headers["x-ratelimit-limit-requests"] == "2"
        assert headers["x-ratelimit-remaining-requests"] == "0"
        assert headers["x-ratelimit-reset-requests"].endswith("s")
        other = await limiter.spend(Quota("key:b", 2, 0), "requests")
        assert other is not None
        assert other.allowed
        assert await limiter.spend(quota, "characters", 10_000) is None

    asyncio.run(run())


def test_refused_characters_are_not_spent() -> None:
    async def run() -> None:
        limiter = RateLimiter()
        quota = Quota("addr:127.0.0.1", requests_per_minute=0, characters_per_minute=100)
        spent = await limiter.spend(quota, "characters", 70)
        refused = await limiter.spend(quota, "characters", 40)
        fits = await limiter.spend(quota, "characters", 30)
        assert spent is not None
        assert refused is not None
        assert fits is not None
        assert (spent.allowed, refused.allowed, fits.allowed) == (True, False, True)
        assert (spent.remaining, refused.remaining, fits.remaining) == (30, 30, 0)

    asyncio.run(run())


def test_two_limiters_on_one_redis_share_the_budget(redis_server: RedisServer) -> None:
    redis_server.flush()

    async def run() -> list[bool]:
        replicas = [RateLimiter(redis_server.url), RateLimiter(redis_server.url)]
        quota = Quota("key:shared", requests_per_minute=3, characters_per_minute=0)
        verdicts = [await replicas[n % 2].spend(quota, "requests") for n in range(4)]
        return [v is not None and v.allowed for v in verdicts]

    assert asyncio.run(run()) == [True, True, True, False]


def test_an_unreachable_redis_lets_requests_through() -> None:
    async def run() -> None:
        limiter = RateLimiter("redis://127.0.0.1:1/0")
        assert await limiter.spend(Quota("key:a", 1, 0), "requests") is None

    asyncio.run(run())


def test_reset_times_are_written_like_openais() -> None:
    def reset(seconds: float) -> str:
        return Verdict("requests", True, 5, 4, seconds).headers()["x-ratelimit-reset-requests"]

    assert [reset(s) for s in (0, 0.25, 12.2, 59.5, 60, 61)] == [
        "0s",
        "250ms",
        "13s",
        "1m0s",
        "1m0s",
        "1m1s",
    ]


def test_storage_urls() -> None:
    assert storage_url("") == "async+memory://"
    assert storage_url("redis://r:6379/0") == "async+redis://r:6379/0"
    assert storage_url("rediss://r:6380/1") == "async+rediss://r:6380/1"
    assert storage_url("unix:///run/redis.sock") == "async+redis+unix:///run/redis.sock"
