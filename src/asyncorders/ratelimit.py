"""Token buckets per platform: in memory, or in Redis shared by every process.

A bucket holds up to `burst` tokens and refills at `rate` per second; a request
takes one. The Redis version is one Lua script, so the read, refill and take
are atomic across processes and use Redis's clock, not each host's. (The
`limits` library offers fixed and moving windows, not a token bucket with a
burst, and would need two round trips for what this does in one.)

If Redis cannot be reached, requests are not refused for it: the limiter falls
back to per-process buckets, says so once in the log, and tries Redis again a
few seconds later.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Protocol

from asyncorders import log

logger = log.get("asyncorders.ratelimit")

REDIS_RETRY_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Limit:
    rate: float  # tokens per second
    burst: int  # bucket size


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: float
    limit: Limit

    @property
    def retry_after(self) -> int:
        """Whole seconds until one token is back (at least 1)."""
        return max(1, math.ceil((1 - self.remaining) / self.limit.rate))

    def headers(self) -> dict[str, str]:
        """RateLimit and RateLimit-Policy fields (IETF httpapi draft)."""
        window = max(1, math.ceil(self.limit.burst / self.limit.rate))
        until_full = math.ceil((self.limit.burst - self.remaining) / self.limit.rate)
        headers = {
            "RateLimit-Policy": f'"platform";q={self.limit.burst};w={window}',
            "RateLimit": f'"platform";r={math.floor(self.remaining)};t={until_full}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class Buckets(Protocol):
    async def take(self, key: str, limit: Limit) -> Decision: ...

    async def close(self) -> None: ...


class MemoryBuckets:
    """Buckets in this process only."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[float, float]] = {}

    async def take(self, key: str, limit: Limit) -> Decision:
        now = time.monotonic()
        tokens, last = self._state.get(key, (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - last) * limit.rate)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        self._state[key] = (tokens, now)
        return Decision(allowed, tokens, limit)

    async def close(self) -> None:
        self._state.clear()


# Takes `n` tokens from each bucket named in KEYS (ARGV: rate, burst and n per
# bucket) at Redis's clock; returns each bucket's tokens before the take.
_TAKE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local before = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[3 * i - 2])
  local burst = tonumber(ARGV[3 * i - 1])
  local wanted = tonumber(ARGV[3 * i])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(state[1]) or burst
  local at = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
  before[i] = tostring(tokens)
  tokens = tokens - math.min(wanted, math.floor(tokens))
  redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
end
return before
"""

_Waiting = tuple[str, Limit, "asyncio.Future[Decision]"]


class RedisBuckets:
    """Buckets in Redis, shared by every process; per-process while Redis is down.

    Takes that arrive while a call to Redis is in flight go together in the
    next one (one round trip for all of them), each decided as if they had
    come one after the other.
    """

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(
            url, socket_timeout=0.25, socket_connect_timeout=0.25
        )
        self._take = self._redis.register_script(_TAKE)
        self._fallback = MemoryBuckets()
        self._down_until = 0.0
        self._waiting: list[_Waiting] = []
        self._sending: asyncio.Task[None] | None = None

    async def take(self, key: str, limit: Limit) -> Decision:
        if time.monotonic() < self._down_until:
            return await self._fallback.take(key, limit)
        decided: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._waiting.append((key, limit, decided))
        if self._sending is None or self._sending.done():
            self._sending = asyncio.create_task(self._send_all())
        return await decided

    async def _send_all(self) -> None:
        while self._waiting:
            waiting, self._waiting = self._waiting, []
            groups: dict[tuple[str, Limit], list[asyncio.Future[Decision]]] = {}
            for key, limit, decided in waiting:
                groups.setdefault((key, limit), []).append(decided)
            try:
                before = await self._take(
                    keys=[f"asyncorders:bucket:{key}" for key, _ in groups],
                    args=[
                        value
                        for (_, limit), futures in groups.items()
                        for value in (limit.rate, limit.burst, len(futures))
                    ],
                )
            except Exception as error:  # any Redis failure: keep serving
                self._went_down(error)
                for (key, limit), futures in groups.items():
                    for decided in futures:
                        _settle(decided, await self._fallback.take(key, limit))
                continue
            if self._down_until:
                logger.info("ratelimit.redis_recovered")
                self._down_until = 0.0
            for ((_, limit), futures), tokens in zip(
                groups.items(), before, strict=True
            ):
                _decide_in_turn(futures, float(tokens), limit)

    def _went_down(self, error: Exception) -> None:
        if self._down_until == 0.0:
            logger.warning(
                "ratelimit.redis_unavailable",
                error=type(error).__name__,
                fallback="per-process buckets",
            )
        self._down_until = time.monotonic() + REDIS_RETRY_SECONDS

    async def close(self) -> None:
        await self._redis.aclose()


def _decide_in_turn(
    futures: list[asyncio.Future[Decision]], tokens: float, limit: Limit
) -> None:
    """The i-th take of a bucket that held `tokens` gets one if i < tokens."""
    granted = min(len(futures), math.floor(tokens))
    for turn, decided in enumerate(futures):
        allowed = turn < granted
        remaining = tokens - turn - 1 if allowed else tokens - granted
        _settle(decided, Decision(allowed, remaining, limit))


def _settle(decided: asyncio.Future[Decision], decision: Decision) -> None:
    if not decided.done():  # the request was cancelled meanwhile
        decided.set_result(decision)


def buckets(redis_url: str | None) -> Buckets:
    return RedisBuckets(redis_url) if redis_url else MemoryBuckets()
