"""The overfitting onset (過学習の始まり): the epoch where validation loss turns upward for good.

Definition (docs/report.md says the same in words):
  1. Smooth the validation loss with a centred moving average of width 3 (at the first and last
     epoch the window holds the two epochs that exist). Centred, so the minimum does not shift
     later the way a trailing average or an EMA would shift it.
  2. m = the first epoch where the smoothed curve is lowest.
  3. The curve turned upward at m if, at the last epoch, both the smoothed and the raw validation
     loss are more than 5% above the smoothed minimum. The raw value counts too because the
     window is cut short at the end: one spike in the second-to-last epoch would otherwise lift
     the last smoothed value alone. The "rise epoch" r > m starts the final stretch in which every
     smoothed value stays above minimum x 1.05. Otherwise there is no onset: the loss kept
     falling, flattened out, or only wobbled.
A diverged run (a loss that is not finite) has no onset: that is a different failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from reglab.analysis.statistics import t_interval

SMOOTHING_WIDTH = 3
RISE_MARGIN = 0.05  # relative: 5% above the smoothed minimum


@dataclass(frozen=True)
class Onset:
    epoch: int | None  # 0-based, as the records count; None: did not turn upward
    minimum: float | None  # the smoothed validation loss at its lowest
    rise_epoch: int | None  # from here to the end the smoothed loss stays above minimum x (1 + margin)
    epochs: int  # how many epochs the run trained


def smooth(values: Sequence[float], width: int = SMOOTHING_WIDTH) -> np.ndarray:
    """Centred moving average over an odd number of epochs, the window cut short at both ends."""
    x = np.asarray(values, dtype=float)
    half = width // 2
    index = np.arange(len(x))
    low, high = np.maximum(index - half, 0), np.minimum(index + half + 1, len(x))
    sums = np.concatenate([[0.0], np.cumsum(x)])
    return (sums[high] - sums[low]) / (high - low)


def overfitting_onset(val_loss: Sequence[float], width: int = SMOOTHING_WIDTH,
                      margin: float = RISE_MARGIN) -> Onset:
    x = np.asarray(val_loss, dtype=float)
    if len(x) == 0 or not np.all(np.isfinite(x)):
        return Onset(None, None, None, len(x))
    s = smooth(x, width)
    m = int(np.argmin(s))
    threshold = s[m] * (1 + margin)
    above = s > threshold
    if not (above[-1] and x[-1] > threshold):
        return Onset(None, float(s[m]), None, len(x))
    # Walk back from the end while the curve stays above the threshold: r starts the final stretch.
    r = len(s) - 1
    while above[r - 1]:  # stops at m at the latest, where the curve is at its minimum
        r -= 1
    return Onset(m, float(s[m]), r, len(x))


@dataclass(frozen=True)
class OnsetSpread:
    """Onsets of one variant across its seeds."""

    turned: int  # runs whose validation loss turned upward
    runs: int  # runs with a finite validation-loss curve
    epochs: int  # the longest run's epochs: "did not turn within N epochs"
    mean: float | None
    std: float | None
    low: float | None  # t interval of the mean onset, over the runs that turned
    high: float | None
    first: int | None
    last: int | None
    per_seed: dict[int, int | None]

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        out["per_seed"] = {str(k): v for k, v in self.per_seed.items()}
        return out


def onset_spread(onsets: dict[int, Onset]) -> OnsetSpread:
    finite = {seed: o for seed, o in onsets.items() if o.minimum is not None}
    epochs = [o.epoch for o in finite.values() if o.epoch is not None]
    interval = t_interval(epochs)
    return OnsetSpread(
        turned=len(epochs), runs=len(finite), epochs=max((o.epochs for o in onsets.values()), default=0),
        mean=interval.mean, std=interval.std, low=interval.low, high=interval.high,
        first=min(epochs, default=None), last=max(epochs, default=None),
        per_seed={seed: o.epoch for seed, o in sorted(onsets.items())},
    )
