"""A scikit-learn style estimator base that does not import scikit-learn.

``sklearn.base`` pulls in ``sklearn.utils`` and with it scipy.stats and more: 1.2 s of the ~3 s
start-up of every prediction command (cProfile of ``sim2sky lightcurves predict``, 2 cores).
:class:`Estimator` follows the same rules as ``sklearn.base.BaseEstimator``: the parameters are
the ``__init__`` arguments, stored unchanged under their own names; ``get_params`` /
``set_params`` (with ``component__param`` nesting) and a repr of the non-default parameters, so
``sklearn.base.clone`` and pipelines work on every sim2sky estimator.
"""

from __future__ import annotations

import inspect

__all__ = ["Estimator"]


class Estimator:
    """Base class: ``get_params``, ``set_params`` and ``repr`` from the ``__init__`` signature."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        if cls.__init__ is object.__init__:
            return []
        params = [p for p in inspect.signature(cls.__init__).parameters.values()
                  if p.name != "self" and p.kind != p.VAR_KEYWORD]
        if any(p.kind == p.VAR_POSITIONAL for p in params):
            raise TypeError(f"{cls.__name__}.__init__ must not take *args: its parameters are its settings")
        return sorted(p.name for p in params)

    def get_params(self, deep: bool = True) -> dict:
        """The settings given to ``__init__``; with ``deep``, also ``name__param`` of estimator settings."""
        out = {}
        for key in self._get_param_names():
            value = getattr(self, key)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{key}__{k}", v) for k, v in value.get_params().items())
            out[key] = value
        return out

    def set_params(self, **params):
        """Set settings (``name`` or ``name__param`` of an estimator setting); returns ``self``."""
        valid = self.get_params(deep=True)
        nested: dict = {}
        for key, value in params.items():
            name, nest, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"{type(self).__name__}: no parameter {name!r}; valid: {sorted(self._get_param_names())}")
            if nest:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub in nested.items():
            valid[name].set_params(**sub)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        shown = []
        for key, value in self.get_params(deep=False).items():
            default = defaults.get(key, inspect.Parameter.empty)
            try:
                same = value is default or (type(value) is type(default) and bool(value == default))
            except (TypeError, ValueError):            # arrays, tensors: show them
                same = False
            if not same:
                text = " ".join(repr(value).split())
                shown.append(f"{key}={text if len(text) <= 60 else text[:57] + '...'}")
        return f"{type(self).__name__}({', '.join(shown)})"
