from reglab.store.records import COMPLETED, DIVERGED, EpochRecord, RunArrays, RunRecord
from reglab.store.run_dir import RunStore, StoredRun

__all__ = ["COMPLETED", "DIVERGED", "EpochRecord", "RunArrays", "RunRecord", "RunStore", "StoredRun"]
