"""Science cases: one package per case, each owning its simulators, features, schema and pipeline.

A new case is a new folder here (see docs/architecture.md); cases import the engine
(``sim2sky.nn``, ``infer``, ``learn``, ``apply``) and ``sim2sky.core``, never the CLI.
"""
