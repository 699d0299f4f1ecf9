"""Bands: the measured range an honest re-run must land in.

A band spans the seeds' [min, max] and is padded by the larger of three
standard deviations and a floor (absolute for accuracies, relative for
losses), so a re-run on another x86 machine passes while a changed model,
optimizer or learning rate does not.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

from .errors import SpecError, invalid_value
from .serial import jsonable

SD_MULT = 3.0
ACC_FLOOR = 0.01  # one accuracy point
LOSS_REL_FLOOR = 0.03
RULE = (
    f"[min, max] over seeds, padded by max({SD_MULT:g} x sample sd, floor); "
    f"floor = {ACC_FLOOR:g} absolute for accuracies (clipped to [0, 1]), "
    f"{LOSS_REL_FLOOR:g} x |mean| for losses"
)


@jsonable
@dataclass(frozen=True)
class Band:
    lo: float
    hi: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)) or self.lo > self.hi:
            raise SpecError(invalid_value("band", "finite lo <= hi", (self.lo, self.hi)))

    def __contains__(self, x: float) -> bool:
        return self.lo <= x <= self.hi

    def widened(self, *, abs_pad: float = 0.0, rel_pad: float = 0.0) -> "Band":
        """A wider band: used for fidelity to documented numbers, never for regressions."""
        pad = max(abs_pad, rel_pad * max(abs(self.lo), abs(self.hi)))
        return Band(self.lo - pad, self.hi + pad)

    def distance(self, x: float) -> float:
        """How far outside the band x lies (0 inside)."""
        return max(self.lo - x, x - self.hi, 0.0)

    def __str__(self) -> str:
        return f"[{self.lo:.6g}, {self.hi:.6g}]"


def band_from_samples(samples: Sequence[float], *, accuracy: bool) -> Band:
    """The band of a metric measured once per seed."""
    xs = [float(x) for x in samples]
    if not xs or not all(math.isfinite(x) for x in xs):
        raise SpecError(invalid_value("samples", "a non-empty list of finite floats", xs))
    if accuracy and not all(0.0 <= x <= 1.0 for x in xs):
        raise SpecError(invalid_value("samples", "accuracies in [0, 1]", xs))
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    mean = statistics.fmean(xs)
    floor = ACC_FLOOR if accuracy else LOSS_REL_FLOOR * abs(mean)
    pad = max(SD_MULT * sd, floor)
    lo, hi = min(xs) - pad, max(xs) + pad
    if accuracy:
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    return Band(lo, hi)
