"""Core layer: errors, configuration, model folders, tables, atomic writes, progress, threads, data.

Nothing here imports from the rest of sim2sky; everything else may import from here. The model-folder
names (:mod:`.modelio`, which needs torch) are loaded on first use, so that the CLI's ``--help``
and the light commands that import ``sim2sky.core`` do not pay torch's ~2.4 s import.
"""

import importlib

from .atomic import OutputExistsError, atomic_dir, atomic_file, check_out_dir, output_kind, save_npy, save_npz, write_text
from .config import from_dict, to_dict
from .data import DataError, available, dataset_file, dataset_root, datasets, fetch
from .errors import InputError, ModelFolderError, suggest
from .estimator import Estimator
from .progress import progress
from .tables import read_arrays, read_table, read_table_columns, table_columns, write_table
from .tablestream import TableStream
from .runtime import check_device, check_precision, runtime, set_runtime
from .threads import available_cores, limit_threads, pin_threads, resolve_jobs

__all__ = [
    "OutputExistsError", "atomic_dir", "atomic_file", "check_out_dir", "output_kind", "save_npy", "save_npz", "write_text",
    "from_dict", "to_dict",
    "DataError", "available", "dataset_file", "dataset_root", "datasets", "fetch",
    "InputError", "ModelFolderError", "suggest", "Estimator",
    "read_model_folder", "save_model_folder", "seal_folder", "sha256_file", "verify_folder",
    "progress",
    "read_arrays", "read_table", "read_table_columns", "table_columns", "write_table", "TableStream",
    "check_device", "check_precision", "runtime", "set_runtime",
    "available_cores", "limit_threads", "pin_threads", "resolve_jobs",
]

_LAZY = {name: "modelio" for name in ("read_model_folder", "save_model_folder", "seal_folder",
                                       "sha256_file", "verify_folder")}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
