"""Shared GCRA rate limiter: the port and its in-memory and Redis implementations."""

from clarion.limiter.memory import MemoryLimiter
from clarion.limiter.port import Decision, Limiter, RateLimit, default_burst
from clarion.limiter.redis import RedisLimiter

__all__ = ["Decision", "Limiter", "MemoryLimiter", "RateLimit", "RedisLimiter", "default_burst"]
