"""Deterministic sharding of the suite for CI machines running it in parallel, and the groups that keep
experiments sharing seeded runs on one machine (or xdist worker)."""

from __future__ import annotations

import hashlib
from typing import Iterable

from .specs import ExperimentSpec


def shard_of(key: str, n: int) -> int:
    """The 0-based shard of `key` among `n`: a hash, so it is the same on every machine and Python."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % n


def training_groups(specs: Iterable[ExperimentSpec]) -> dict[str, str]:
    """Experiment id -> the id naming its group: experiments joined when one's checks need the other's runs,
    or when both train the same thing (equal digests). Run in one process, a group trains each seeded run
    once; split across workers, a run needed by both would be trained twice."""
    specs = list(specs)
    parent = {s.id: s.id for s in specs}
    order = {s.id: n for n, s in enumerate(specs)}

    def root(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(a: str, b: str) -> None:
        ra, rb = root(a), root(b)
        if ra != rb:  # the earlier-registered id names the group
            first, second = sorted((ra, rb), key=order.__getitem__)
            parent[second] = first

    by_digest: dict[str, str] = {}
    for s in specs:
        for need in (i for c in s.expectations for i in c.needs()):
            if need in parent:
                join(s.id, need)
        join(s.id, by_digest.setdefault(s.digest, s.id))
    return {s.id: root(s.id) for s in specs}
