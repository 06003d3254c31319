"""Typed, frozen configuration objects built from plain dicts with strict key checking."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from .errors import InputError, suggest

__all__ = ["from_dict", "to_dict"]

T = TypeVar("T")


def from_dict(cls: type[T], data: dict[str, Any] | None, what: str | None = None) -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys raise with a close-match suggestion."""
    data = dict(data or {})
    names = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            raise InputError(
                f"unknown {what or cls.__name__} setting {key!r}{suggest(key, names)}; "
                f"valid settings: {', '.join(sorted(names))}"
            )
    for key, value in list(data.items()):
        if isinstance(value, list):
            data[key] = tuple(value)
    try:
        obj = cls(**data)
    except (TypeError, ValueError) as exc:
        raise InputError(f"invalid {what or cls.__name__}: {exc}") from None
    return obj


def to_dict(obj) -> dict[str, Any]:
    out = dataclasses.asdict(obj)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}
