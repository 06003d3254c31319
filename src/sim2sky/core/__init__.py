"""Core layer: errors, configuration, model folders, tables, atomic writes, progress, threads, data.

Nothing here imports from the rest of sim2sky; everything else may import from here.
"""

from .atomic import atomic_dir, atomic_file, save_npy, save_npz, write_text
from .config import from_dict, to_dict
from .data import DataError, available, dataset_file, dataset_root, datasets, fetch
from .errors import InputError, ModelFolderError, suggest
from .modelio import read_model_folder, save_model_folder, sha256_arrays, sha256_file
from .progress import progress, track
from .tables import read_arrays, read_table, read_table_columns, table_columns, write_table
from .threads import limit_threads, pin_threads

__all__ = [
    "atomic_dir", "atomic_file", "save_npy", "save_npz", "write_text",
    "from_dict", "to_dict",
    "DataError", "available", "dataset_file", "dataset_root", "datasets", "fetch",
    "InputError", "ModelFolderError", "suggest",
    "read_model_folder", "save_model_folder", "sha256_arrays", "sha256_file",
    "progress", "track",
    "read_arrays", "read_table", "read_table_columns", "table_columns", "write_table",
    "limit_threads", "pin_threads",
]
