"""Deterministic sharding of the suite for CI machines running it in parallel."""

from __future__ import annotations

import hashlib


def shard_of(key: str, n: int) -> int:
    """The 0-based shard of `key` among `n`: a hash, so it is the same on every machine and Python."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % n
