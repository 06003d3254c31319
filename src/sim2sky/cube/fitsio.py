"""FITS cubes without loading them: empty-file creation for out-of-core writing, block reads.

Large cubes are written by creating the file with all headers and sparse data regions first
(the recipe in the astropy FAQ for files larger than memory), then filling slices through a
memory map; reads go through ``fits.open(memmap=True)`` so only touched blocks are paged in.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

__all__ = ["create_empty_fits"]

_BITPIX = {np.dtype("float32"): -32, np.dtype("float64"): -64, np.dtype("uint8"): 8, np.dtype("int16"): 16,
           np.dtype("int32"): 32}


def create_empty_fits(path, extensions) -> None:
    """Create ``path`` with an empty primary HDU and image extensions of zeros (sparse on disk).

    extensions : list of ``(name, header or None, shape (numpy order), dtype)``; the primary
    header may be given as the first element ``("PRIMARY", header, None, None)``.
    """
    with open(path, "wb") as fh:
        ext = list(extensions)
        primary = fits.Header()
        if ext and ext[0][0] == "PRIMARY":
            primary = ext.pop(0)[1] or fits.Header()
        ph = fits.PrimaryHDU(header=primary).header
        ph["EXTEND"] = True
        fh.write(ph.tostring().encode("ascii"))
        for name, header, shape, dtype in ext:
            dtype = np.dtype(dtype)
            h = fits.ImageHDU(header=header.copy() if header is not None else None, name=name).header
            h["BITPIX"] = _BITPIX[dtype]
            h["NAXIS"] = len(shape)
            prev = "NAXIS"
            for i, n in enumerate(reversed(shape), start=1):
                h.set(f"NAXIS{i}", n, after=prev)
                prev = f"NAXIS{i}"
            h["EXTNAME"] = name
            fh.write(h.tostring().encode("ascii"))
            nbytes = int(np.prod(shape)) * dtype.itemsize
            padded = -(-nbytes // 2880) * 2880
            fh.seek(padded - 1, 1)
            fh.write(b"\0")
