"""Progress bars (rich) for long work: one helper used by training, sampling and cube runs.

``progress(total, label, enabled)`` is a context manager yielding an object with
``advance(n=1, **fields)``; disabled, it yields a no-op with the same interface, so callers
never branch on ``enabled``.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

__all__ = ["progress"]


class _NoBar:
    def advance(self, n: float = 1, **fields) -> None:
        pass


class _Bar:
    def __init__(self, bar, task):
        self._bar, self._task = bar, task

    def advance(self, n: float = 1, **fields) -> None:
        self._bar.update(self._task, advance=n, **fields)


@contextlib.contextmanager
def progress(total: float | None, label: str, enabled: bool = True, fields: dict | None = None,
             template: str | None = None) -> Iterator[_Bar | _NoBar]:
    """A rich progress bar over ``total`` steps.

    ``fields`` are extra values shown with ``template`` (a rich ``TextColumn`` format such as
    ``"val loss {task.fields[val]:.3f}"``) and updated through ``advance(val=...)``.
    """
    if not enabled:
        yield _NoBar()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn()]
    if template:
        columns.append(TextColumn(template))
    columns += [TimeElapsedColumn(), TimeRemainingColumn()]
    bar = Progress(*columns, transient=False)
    bar.start()
    try:
        yield _Bar(bar, bar.add_task(label, total=total, **(fields or {})))
    finally:
        bar.stop()

