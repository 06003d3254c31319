"""What every CLI module shares: the consoles, the user-error wrapper, small parsers.

User errors (:class:`sim2sky.core.InputError`) become one red ``error:`` line on stderr and
exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from ..core.errors import InputError

__all__ = ["console", "out", "user_errors", "split", "notice"]

console = Console(stderr=True)
out = Console()


def user_errors(fn):
    """Turn InputError into a clean message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            # escaped: messages quote things like [SII] or [km/s] that rich would take for markup
            console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper


def notice(message: str) -> None:
    """One yellow ``notice:`` line on stderr (information the user should see, not an error)."""
    console.print(f"[yellow]notice:[/] {escape(message)}", highlight=False)


def split(cols: Optional[str]) -> Optional[list[str]]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; None or empty stays None."""
    return [c.strip() for c in cols.split(",") if c.strip()] if cols else None
