"""Seeds derived from the run seed and a unit of work (a problem, a shard, a stage), so that a
re-run, or the same unit in another shard or process, draws the same numbers."""

from __future__ import annotations

import hashlib


def derived_seed(run_seed: int, *unit: object) -> int:
    """A 63-bit seed from the run seed and the unit's parts, via sha256 (stable everywhere,
    unlike Python's salted str hash)."""
    text = "/".join(str(part) for part in (run_seed, *unit))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1
