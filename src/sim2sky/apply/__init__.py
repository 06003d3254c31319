"""Engine: apply models at scale — FITS cubes read in blocks, resumable dask block runs."""

from .blocks import cached_block, file_identity, folder_identity, prepare_partial, run_blocks, split_sizes
from .fitscube import CubeSpec, celestial_header, create_empty_fits, header_number, open_cube, read_block

__all__ = ["cached_block", "file_identity", "folder_identity", "prepare_partial", "run_blocks", "split_sizes", "CubeSpec", "celestial_header", "create_empty_fits",
           "header_number", "open_cube", "read_block"]
