"""A run store that keeps runs in memory: what the engine's `execute` writes into when nothing
should touch the disk (benchmarks, engine tests). It takes no checkpoints."""

from __future__ import annotations

from reglab.store.records import RunArrays, RunRecord


class MemoryStore:
    def __init__(self) -> None:
        self.runs: dict[tuple[str, int], tuple[RunRecord, RunArrays]] = {}  # (variant, seed) -> its run
        self.saved: list[tuple[int, str, int]] = []  # (variant index, variant, seed), in the order saved

    def save_run(self, variant_index: int, record: RunRecord, arrays: RunArrays) -> None:
        self.runs[(record.variant, record.seed)] = (record, arrays)
        self.saved.append((variant_index, record.variant, record.seed))

    def save_progress(self, variant_index: int, variant_name: str, seed: int, record) -> None:
        pass  # nobody watches a store in memory (reglab.live reads progress files)

    def checkpoint_path(self, variant_index: int, variant_name: str, seed: int):
        raise TypeError("a MemoryStore takes no checkpoints: execute it with checkpoint_seconds=None")

    def records(self) -> list[RunRecord]:
        return [record for record, _ in self.runs.values()]
