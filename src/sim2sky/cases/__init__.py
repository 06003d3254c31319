"""Science cases: one package per case, each owning its simulators, features, schema and pipeline.

Every case package exposes the same contract (:mod:`sim2sky.core.contract`): ``simulate(n, seed=)``,
``train(data_or_config, out)`` and ``load(model).predict(data)`` / ``.check()`` / ``.calibrate()``.
A new case is a new folder here that passes ``tests/test_contract.py`` and a line in :data:`CASES`;
cases import the engine (``sim2sky.nn``, ``infer``, ``learn``, ``apply``) and ``sim2sky.core``,
never the CLI.
"""

__all__ = ["CASES"]

#: CLI name -> package under ``sim2sky.cases`` (the light-curve case lives in ``variables``).
CASES = {"nebulae": "nebulae", "spectra": "spectra", "supernovae": "supernovae", "lightcurves": "variables",
         "transits": "transits", "hicubes": "hicubes", "blends": "blends", "fields": "fields", "sbibm": "sbibm",
         "radio": "radio"}
