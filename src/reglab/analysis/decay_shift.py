"""Whether the best decay moves less across learning rates with one form of decay than another:
Loshchilov & Hutter's (2019) claim for decoupled decay, read from two two-factor sweeps that share
their first factor (the learning rate), e.g. the `lr-and-decay` study.

For each grid and each learning rate (a row), the decay with the best mean on the sweep's choice
metric (validation, never test); a grid's *span* is how many decades those per-row bests cover.
A best at either end of a grid's decays does not locate the optimum (it may lie beyond the grid:
at a small learning rate and few epochs every decay can hurt, and the "best" is then simply the
smallest one the grid holds), so only the rows where both grids' best lies inside their grid
count; the others are named and left out.
One run of each cell per seed gives one span per grid, which may be noise: in `lr-and-decay` on
digits most rows' best cell beat the runner-up by less than one standard error. So the verdict
comes from a paired bootstrap over seeds: the seeds both grids completed are resampled with
replacement (the same resample for every cell of both grids, which keeps each seed's shared data
order and initial weights together), the per-row bests and spans recomputed, and a direction is
stated only when it holds in at least `SUPPORT` of the resamples. Definitions: docs/report.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from reglab.analysis.statistics import BOOTSTRAP_SEED
from reglab.analysis.sweeps import HIGHER_IS_BETTER, SweepAnalysis

RESAMPLES = 2_000
SUPPORT = 0.95  # the share of seed resamples a direction must hold in to be stated
# How far a row's best must stand above its runner-up to count as settled: two standard errors of
# their paired difference, the usual rough 95% margin.
SETTLED_SE = 2.0


@dataclass(frozen=True)
class DecayShift:
    names: tuple[str, str]  # the two grids, in the study's order
    metric: str  # the sweeps' choice metric
    rows_used: tuple[float, ...]  # learning rates where both grids locate their best inside the grid
    rows_left_out: tuple[float, ...]  # where a grid's best is at one of its ends
    spans: tuple[float, float]  # decades the per-row best decay covers over rows_used, on all seeds
    ranges: tuple[tuple[float, float], tuple[float, float]]  # the smallest and largest per-row best
    step: float  # decades between neighbouring decays of the grid (its resolution)
    seeds: int  # seeds every cell of both grids completed
    resamples: int
    share_second_less: float  # resamples in which the second grid's span is smaller than the first's
    share_first_less: float
    rows: int  # rows_used of both grids together
    settled_rows: int  # rows whose best beats the runner-up by SETTLED_SE standard errors
    seeds_needed: int | None  # seeds for every row to be settled (None: a row whose best and runner-up tie)

    @property
    def verdict(self) -> str | None:
        """'second_less', 'first_less' or None (undecided)."""
        if len(self.rows_used) < 2:
            return None
        if self.share_second_less >= SUPPORT:
            return "second_less"
        if self.share_first_less >= SUPPORT:
            return "first_less"
        return None

    def to_json(self) -> dict[str, Any]:
        return {"grids": list(self.names), "metric": self.metric, "rows_used": list(self.rows_used),
                "rows_left_out": list(self.rows_left_out), "spans_decades": list(self.spans),
                "ranges": [list(r) for r in self.ranges], "grid_step_decades": self.step, "seeds": self.seeds,
                "resamples": self.resamples, "support": SUPPORT, "share_second_less": self.share_second_less,
                "share_first_less": self.share_first_less, "verdict": self.verdict, "rows": self.rows,
                "settled_rows": self.settled_rows, "seeds_needed": self.seeds_needed}


def decay_shift(sweeps: list[SweepAnalysis], resamples: int = RESAMPLES,
                seed: int = BOOTSTRAP_SEED) -> DecayShift | None:
    """None unless exactly two two-factor sweeps share their first factor, with a positive numeric
    second factor, one choice metric, and at least two seeds completed by every cell."""
    grids = [sw for sw in sweeps if len(sw.factors) == 2]
    if len(grids) != 2 or grids[0].factors[0] != grids[1].factors[0] or grids[0].choose != grids[1].choose:
        return None
    metric = grids[0].choose
    cubes = [_cube(grid, metric) for grid in grids]
    if any(c is None for c in cubes):
        return None
    seeds = sorted(set(cubes[0][2]) & set(cubes[1][2]))
    if len(seeds) < 2 or list(cubes[0][3]) != list(cubes[1][3]):
        return None
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    # values[g]: rows x decays x seeds, better is higher (the sign folded in)
    values = [sign * cube[0][:, :, [cube[2].index(s) for s in seeds]] for cube in cubes]
    logs = [np.log10(cube[1]) for cube in cubes]
    inside = np.ones(len(cubes[0][3]), dtype=bool)
    for v in values:
        best = np.argmax(v.mean(axis=2), axis=1)
        inside &= (best > 0) & (best < v.shape[1] - 1)
    rows = [float(r) for r in cubes[0][3]]
    used = tuple(r for r, keep in zip(rows, inside) if keep)
    left_out = tuple(r for r, keep in zip(rows, inside) if not keep)
    if len(used) < 2:
        return DecayShift((grids[0].name, grids[1].name), metric, used, left_out, (math.nan, math.nan),
                          ((math.nan, math.nan), (math.nan, math.nan)), min(float(np.min(np.diff(lg))) for lg in logs),
                          len(seeds), 0, 0.0, 0.0, 0, 0, None)
    values = [v[inside] for v in values]
    spans = [_span(v.mean(axis=2), lg) for v, lg in zip(values, logs)]
    ranges = [(float(10 ** _best_logs(v.mean(axis=2), lg).min()), float(10 ** _best_logs(v.mean(axis=2), lg).max()))
              for v, lg in zip(values, logs)]
    rng = np.random.default_rng(seed)
    n = len(seeds)
    # One multinomial draw of seed counts per resample, shared by both grids: the paired bootstrap.
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples) / n  # resamples x seeds
    boot = [_span_batch(np.einsum("rds,bs->brd", v, weights), lg) for v, lg in zip(values, logs)]
    tol = 1e-9
    share_second_less = float(np.mean(boot[1] < boot[0] - tol))
    share_first_less = float(np.mean(boot[0] < boot[1] - tol))
    settled, needed = _settledness(values)
    step = min(float(np.min(np.diff(lg))) for lg in logs)
    return DecayShift((grids[0].name, grids[1].name), metric, used, left_out, (spans[0], spans[1]),
                      (ranges[0], ranges[1]),
                      step, n, resamples, share_second_less, share_first_less,
                      sum(v.shape[0] for v in values), settled, needed)


def _cube(grid: SweepAnalysis, metric: str) -> tuple[np.ndarray, np.ndarray, list[int], list[Any]] | None:
    """(rows x decays x seeds array of the metric, the decays, the seeds every cell completed, the
    rows), or None when the grid is not complete or its decays are not positive numbers."""
    first, second = grid.factors[:2]
    rows, decays = grid.axis(first), grid.axis(second)
    if len(rows) < 2 or len(decays) < 2 or not all(isinstance(d, (int, float)) and d > 0 for d in decays):
        return None
    cells = {(p.values[first], p.values[second]): p.per_seed.get(metric, {}) for p in grid.points}
    if len(cells) != len(rows) * len(decays) or any((r, d) not in cells for r in rows for d in decays):
        return None
    seeds = sorted(set.intersection(*(set(c) for c in cells.values())))
    if not seeds:
        return None
    cube = np.array([[[cells[(r, d)][s] for s in seeds] for d in decays] for r in rows], dtype=float)
    return cube, np.array(decays, dtype=float), seeds, rows


def _best_logs(means: np.ndarray, logs: np.ndarray) -> np.ndarray:
    """Per row (rows x decays of means, higher better), the log10 of the best decay."""
    return logs[np.argmax(means, axis=1)]


def _span(means: np.ndarray, logs: np.ndarray) -> float:
    best = _best_logs(means, logs)
    return float(best.max() - best.min())


def _span_batch(means: np.ndarray, logs: np.ndarray) -> np.ndarray:
    """_span for a batch: resamples x rows x decays -> resamples."""
    best = logs[np.argmax(means, axis=2)]
    return best.max(axis=1) - best.min(axis=1)


def _settledness(values: list[np.ndarray]) -> tuple[int, int | None]:
    """How many rows' best beats its runner-up by SETTLED_SE standard errors of their paired
    difference, and how many seeds every row would need for that: the largest over the rows of
    n·(SETTLED_SE·se/margin)² = (SETTLED_SE·sd/margin)², from the grids' own spread (a rough
    planning number, no promise). A direction can hang on the least settled row, so all count."""
    settled, needed = 0, []
    for cube in values:
        n = cube.shape[2]
        for row in cube:
            order = np.argsort(row.mean(axis=1))[::-1]
            d = row[order[0]] - row[order[1]]
            margin, sd = float(d.mean()), float(d.std(ddof=1))
            if sd == 0:
                settled += margin > 0
                continue
            settled += margin >= SETTLED_SE * sd / math.sqrt(n)
            needed.append(math.inf if margin <= 0 else (SETTLED_SE * sd / margin) ** 2)
    if not needed:
        return settled, None
    most = max(needed)
    return settled, None if not math.isfinite(most) else max(2, math.ceil(most))
