"""Datasets for reglab: IDX parsing, verified downloads into a cache, and splits.

The CLI's `reglab data list` and `reglab data fetch NAME` call `list_datasets()` and
`fetch(name)`; studies call `resolve_dataset()` then `make_splits()`.
"""

from .download import fetch
from .errors import DataError, IdxError
from .idx import parse_idx, read_idx, write_idx
from .load import Dataset, DatasetInfo, list_datasets, load_dataset, resolve_dataset
from .paths import cache_dir
from .sources import SOURCES, FileSpec, Source, get_source
from .splits import Splits, make_splits
from . import table_preprocess  # noqa: F401  (registers the table's kind of preprocessing)

__all__ = [
    "DataError",
    "Dataset",
    "DatasetInfo",
    "FileSpec",
    "IdxError",
    "SOURCES",
    "Source",
    "Splits",
    "cache_dir",
    "fetch",
    "get_source",
    "list_datasets",
    "load_dataset",
    "make_splits",
    "parse_idx",
    "read_idx",
    "resolve_dataset",
    "write_idx",
]
