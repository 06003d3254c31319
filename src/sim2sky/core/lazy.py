"""Package ``__init__`` files that re-export their public names without importing every module.

Importing one submodule (``sim2sky.infer.io`` to load a model) runs its package ``__init__``
first. When that ``__init__`` imports every sibling, one model load pays for scipy.stats,
scikit-learn's model selection and matplotlib, about 2 s of a 10-row classification. A package
built with :func:`lazy_exports` imports a module only when one of its names is first used
(PEP 562).
"""

from __future__ import annotations

import importlib

__all__ = ["lazy_exports"]


def lazy_exports(package: str, modules: dict[str, tuple[str, ...]]):
    """``(__getattr__, __dir__)`` for ``package`` exporting ``{module: names}`` on first use."""
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str):
        if name in where:
            value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
            globals_ = importlib.import_module(package).__dict__
            globals_[name] = value            # the next access is a plain attribute
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(where) | set(importlib.import_module(package).__dict__))

    return __getattr__, __dir__
