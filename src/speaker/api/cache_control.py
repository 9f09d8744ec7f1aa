"""The request's `Cache-Control` header, as a policy for the audio cache."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from speaker.cache import CachePolicy


def cache_policy(
    cache_control: Annotated[
        str | None,
        Header(
            description="`no-cache`: synthesize anew and keep the result in the audio cache; "
            "`no-store`: neither read nor keep it. Either answers `x-speaker-cache: bypass`."
        ),
    ] = None,
) -> CachePolicy:
    """`no-store` skips the audio cache, `no-cache` refreshes it; anything else uses it."""
    directives = {d.split("=", 1)[0].strip().lower() for d in (cache_control or "").split(",")}
    if "no-store" in directives:
        return CachePolicy.SKIP
    if "no-cache" in directives:
        return CachePolicy.REFRESH
    return CachePolicy.USE


CachePolicyDep = Annotated[CachePolicy, Depends(cache_policy)]
