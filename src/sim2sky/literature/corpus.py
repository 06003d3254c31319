"""Read paper records from JSON Lines in the layouts astronomers have on disk.

Accepted layouts (detected per record):
- arXiv metadata as in ``../shared/data/corpus``: ``id, title, abstract, categories`` (list),
  ``authors`` (list), ``date``;
- the Kaggle arXiv snapshot: ``authors`` and ``categories`` as strings, ``update_date``,
  ``versions`` (list of ``{"version": "v2", "created": ...}``);
- ADS exports: ``bibcode``, ``title`` (list), ``abstract``, ``pubdate`` ("2023-01-00"),
  ``citation_count``, ``identifier``/``arxiv_id``.
Malformed lines are reported with their line numbers and skipped.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from email.utils import parsedate_to_datetime

from ..core.errors import InputError

__all__ = ["Paper", "read_corpus", "base_id"]

_VERSION = re.compile(r"v(\d+)$")
_ARXIV_ID = re.compile(r"(\d{4}\.\d{4,5}(v\d+)?|[a-z\-]+(\.[A-Z]{2})?/\d{7}(v\d+)?)$")


@dataclass
class Paper:
    id: str
    title: str
    abstract: str
    categories: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    date: str = ""  # YYYY-MM-DD
    version: int = 1
    citations: int | None = None
    bibcode: str | None = None

    @property
    def date_int(self) -> int:
        digits = self.date.replace("-", "")[:8]
        return int(digits.ljust(8, "0")) if digits.isdigit() else 0


def base_id(raw: str) -> tuple[str, int]:
    """``"2401.01234v3" -> ("2401.01234", 3)``; ids without a version are version 1."""
    raw = raw.strip()
    m = _VERSION.search(raw)
    if m and _ARXIV_ID.search(raw):
        return raw[: m.start()], int(m.group(1))
    return raw, 1


def _date(rec: dict) -> str:
    for key in ("date", "update_date", "published", "pubdate"):
        v = rec.get(key)
        if isinstance(v, str) and len(v) >= 4:
            d = v[:10].replace("-00", "-01")
            return d if len(d) == 10 else (d + "-01-01")[:10]
    versions = rec.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[-1], dict):

        try:
            return parsedate_to_datetime(versions[-1].get("created", "")).strftime("%Y-%m-%d")
        except (TypeError, ValueError):
            pass
    return ""


def _text(value, name: str) -> str:
    """A text field (a string, or a list of strings as ADS writes titles); anything else makes
    the record unusable, reported with its line number like any other bad line."""
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    if not isinstance(value, str):
        raise ValueError(f"{name} is not text ({type(value).__name__})")
    return value


def _listify(v, sep=None) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        parts = v.split(sep) if sep else v.split()
        return [p.strip() for p in parts if p.strip()]
    if isinstance(v, list):
        return [str(x).strip() for x in v if str(x).strip()]
    return [str(v)]


def parse_record(rec: dict) -> Paper:
    """Normalise one record; raises ValueError with the reason when it cannot be used."""
    if not isinstance(rec, dict):
        raise ValueError("record is not a JSON object")
    raw_id = rec.get("id") or rec.get("arxiv_id")
    if not raw_id and isinstance(rec.get("identifier"), list):
        raw_id = next((i.replace("arXiv:", "") for i in rec["identifier"] if str(i).startswith("arXiv:")), None)
    raw_id = raw_id or rec.get("bibcode")
    if not raw_id:
        raise ValueError("no id, arxiv_id or bibcode")
    pid, version = base_id(str(raw_id))
    if isinstance(rec.get("versions"), list) and rec["versions"]:
        last = rec["versions"][-1]
        m = _VERSION.search(str(last.get("version", "") if isinstance(last, dict) else last))
        version = int(m.group(1)) if m else version
    title, abstract = _text(rec.get("title"), "title"), _text(rec.get("abstract"), "abstract")
    if not abstract.strip() and not title.strip():
        raise ValueError("no title and no abstract")
    authors = rec.get("authors", rec.get("author"))
    authors = _listify(authors, sep=",") if isinstance(authors, str) else _listify(authors)
    cites = rec.get("citation_count", rec.get("citations"))
    return Paper(
        id=pid, title=" ".join(title.split()), abstract=" ".join(abstract.split()),
        categories=_listify(rec.get("categories")), authors=authors, date=_date(rec), version=version,
        citations=int(cites) if isinstance(cites, (int, float)) else None, bibcode=rec.get("bibcode"),
    )


def read_corpus(path, errors: list | None = None) -> Iterator[Paper]:
    """Yield papers from a ``.jsonl`` or ``.jsonl.gz`` file; bad lines go to ``errors``.

    Each error is ``(path, line_number, reason)``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"corpus file {path} does not exist")
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as raw:
            for lineno, line in enumerate(io.TextIOWrapper(raw, encoding="utf-8", errors="replace"), start=1):
                if not line.strip():
                    continue
                try:
                    yield parse_record(json.loads(line))
                except (json.JSONDecodeError, ValueError, TypeError) as exc:
                    if errors is not None:
                        errors.append((str(path), lineno, str(exc)[:120]))
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read corpus {path}: {exc}") from None
