"""Optional dependencies: the libraries only one case or tool needs are extras of the package.

:func:`require` imports one when it is first needed (they are heavy to import: numba-compiled
umap and shap take seconds, galsim and finufft load compiled extensions) and turns a missing one
into one :class:`~sim2sky.core.errors.InputError` line naming the extra to install.
"""

from __future__ import annotations

import importlib

from .errors import InputError

__all__ = ["EXTRAS", "require"]

#: module -> (distribution, extra of sim2sky that installs it)
EXTRAS = {
    "galsim": ("galsim", "blends"),
    "finufft": ("finufft", "lightcurves"),
    "shap": ("shap", "understand"),
    "umap": ("umap-learn", "understand"),
    "h5py": ("h5py", "fields"),
    "py21cmfast": ("21cmFAST", "cross"),
}


def require(module: str):
    """The imported ``module``, or one line: ``... needs X: pip install 'sim2sky[EXTRA]'``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        dist, extra = EXTRAS[module]
        raise InputError(f"this needs {dist}, an optional dependency of the {extra} case: "
                         f"pip install 'sim2sky[{extra}]' (or 'sim2sky[all]')") from None
