"""The literature index: a tantivy BM25 index plus optional dense vectors, on disk.

Layout of an index folder: ``lexical/`` (tantivy), ``dense/`` (see :mod:`.dense`),
``meta.json`` (counts, options). Adding documents is incremental: a paper whose id is already
indexed is deleted and re-added (a new version replaces the old), and only new or changed
abstracts are embedded.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Iterable

from ..core.atomic import write_text
from ..core.errors import InputError
from .corpus import Paper
from .dense import DenseStore, Embedder

__all__ = ["LitIndex", "default_index_dir"]


def default_index_dir() -> Path:
    from platformdirs import user_data_dir  # light, but only to locate the index

    return Path(user_data_dir("sim2sky")) / "lit-index"


def _schema():
    import tantivy  # the 'lit' extra

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    sb.add_text_field("title", stored=True, tokenizer_name="raw")
    sb.add_text_field("abstract", stored=True, tokenizer_name="raw")
    # one BM25 field for title + abstract: separate fields favour papers that have a title
    # (the 2023 QA corpus has none), which cost 0.6 in recall@1 on qa_dev
    sb.add_text_field("text", stored=False, tokenizer_name="en_stem")
    sb.add_text_field("categories", stored=True, tokenizer_name="raw")
    sb.add_text_field("authors", stored=True, tokenizer_name="default")
    sb.add_integer_field("date", stored=True, indexed=True, fast=True)
    sb.add_integer_field("citations", stored=True, indexed=True, fast=True)
    sb.add_text_field("checksum", stored=True, tokenizer_name="raw")
    return sb.build()


def _checksum(p: Paper) -> str:
    return hashlib.sha1(f"{p.title}\n{p.abstract}".encode()).hexdigest()[:16]


class LitIndex:
    """Open (or create with ``create=True``) the index in ``folder``."""

    def __init__(self, folder, create: bool = False):
        try:
            import tantivy  # the 'lit' extra
        except ImportError:
            raise InputError("the literature assistant needs the 'lit' extra: pip install 'sim2sky[lit]'") from None
        self.folder = Path(folder)
        lex = self.folder / "lexical"
        if not lex.is_dir():
            if not create:
                raise InputError(f"no literature index in {self.folder}; build one with 'sim2sky lit index CORPUS --out {self.folder}'")
            lex.mkdir(parents=True)
        self.schema = _schema()
        try:
            self.index = tantivy.Index(self.schema, path=str(lex))
        except ValueError as exc:
            raise InputError(f"cannot open the literature index in {self.folder}: {exc}") from None
        meta_path = self.folder / "meta.json"
        self.meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"dense": False}
        self._dense = None

    @property
    def dense(self):
        if self._dense is None and (self.folder / "dense" / "ids.json").exists():
            self._dense = DenseStore(self.folder / "dense")
        return self._dense

    def __len__(self) -> int:
        return self.index.searcher().num_docs

    def add(self, papers: Iterable[Paper], dense: bool = False, progress: bool = False, batch: int = 20000) -> dict:
        """Add or replace papers; returns counts (added, replaced, unchanged, embedded, seconds)."""
        import tantivy  # the 'lit' extra

        t0 = time.perf_counter()
        searcher = self.index.searcher()
        writer = self.index.writer(heap_size=200_000_000, num_threads=1)
        stats = {"added": 0, "replaced": 0, "unchanged": 0, "embedded": 0}
        to_embed: list[Paper] = []
        latest: dict[str, Paper] = {}
        for p in papers:  # within one batch of input, the highest version of an id wins
            old = latest.get(p.id)
            if old is None or p.version >= old.version:
                latest[p.id] = p
        for p in latest.values():
            checksum = _checksum(p)
            hits = searcher.search(tantivy.Query.term_query(self.schema, "id", p.id), 1).hits
            if hits:
                old = searcher.doc(hits[0][1])
                if old["checksum"][0] == checksum:
                    stats["unchanged"] += 1
                    continue
                writer.delete_documents_by_term("id", p.id)
                stats["replaced"] += 1
            else:
                stats["added"] += 1
            writer.add_document(tantivy.Document(
                id=p.id, title=p.title, abstract=p.abstract, text=f"{p.title}\n{p.abstract}", categories=p.categories or [""],
                authors=", ".join(p.authors), date=p.date_int, citations=-1 if p.citations is None else p.citations,
                checksum=checksum))
            to_embed.append(p)
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        if dense:
            store = DenseStore(self.folder / "dense")
            for i in range(0, len(to_embed), 512):
                chunk = to_embed[i : i + 512]
                store.append([p.id for p in chunk], Embedder.encode([f"{p.title}. {p.abstract}" for p in chunk], progress=progress))
            stats["embedded"] = len(to_embed)
            self.meta["dense"] = True
            self._dense = None
        self.meta.update(num_docs=len(self), updated_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        write_text(self.folder / "meta.json", json.dumps(self.meta, indent=1))
        stats["seconds"] = time.perf_counter() - t0
        return stats
