"""``sim2sky lit index|search|ask|serve``: the literature assistant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from .common import console, out, user_errors

__all__ = ["app"]

app = typer.Typer(help="Literature assistant: index astro-ph, search, answer with citations.", no_args_is_help=True)


def _index_dir(index: Optional[Path]) -> Path:
    from ..literature.index import default_index_dir

    return index or default_index_dir()


def _options(k, since, until, category, mode, recency, citations):
    from ..core.config import from_dict
    from ..literature.search import SearchOptions

    return from_dict(SearchOptions, {"k": k, "since": since, "until": until, "category": category, "mode": mode,
                                     "recency_boost": recency, "citation_boost": citations}, "search option")


@app.command("index")
@user_errors
def lit_index(
    corpus: list[Path] = typer.Argument(..., help="JSON Lines files (.jsonl or .jsonl.gz): arXiv metadata, Kaggle snapshot or ADS export."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Index folder (default: the per-user data folder)."),
    dense: bool = typer.Option(False, help="Also embed abstracts with all-MiniLM-L6-v2 (~35 abstracts/s on 2 cores)."),
    progress: bool = typer.Option(True, help="Show progress."),
):
    """Build or update an index; re-indexing adds new papers and replaces new versions only."""
    from ..literature.corpus import read_corpus
    from ..literature.index import LitIndex

    idx = LitIndex(_index_dir(out_dir), create=True)
    errors: list = []
    papers = [p for f in corpus for p in read_corpus(f, errors)]
    for path, line, reason in errors[:20]:
        console.print(f"[yellow]skipped[/] {path}:{line}: {reason}")
    if len(errors) > 20:
        console.print(f"[yellow]... and {len(errors) - 20} more malformed lines[/]")
    stats = idx.add(papers, dense=dense, progress=progress)
    out.print(f"indexed {len(papers)} records into {idx.folder}: {stats['added']} new, {stats['replaced']} replaced, "
              f"{stats['unchanged']} unchanged, {stats['embedded']} embedded, {len(errors)} malformed lines skipped "
              f"({stats['seconds']:.1f} s); {len(idx)} papers in the index")


def _print_results(results, title: str):
    from rich.table import Table as RichTable

    t = RichTable("#", "arXiv id", "relevance", "date", "title", "first author", title=title)
    for i, r in enumerate(results, 1):
        t.add_row(str(i), r.id, f"{r.score:.3f}", r.date, r.title[:90], r.first_author[:30])
    out.print(t)


@app.command("search")
@user_errors
def lit_search(
    query: str = typer.Argument(..., help="What to look for, in plain words."),
    k: int = typer.Option(10, "-k", help="Number of papers.", min=1),
    since: Optional[str] = typer.Option(None, help="Earliest date: 2024, 2024-05 or 2024-05-17."),
    until: Optional[str] = typer.Option(None, help="Latest date, same forms."),
    category: Optional[str] = typer.Option(None, help="Hard filter on an arXiv category, e.g. astro-ph.GA."),
    mode: str = typer.Option("hybrid", help="hybrid, lexical or dense."),
    recency: float = typer.Option(0.0, help="Recency boost weight (0 = off).", min=0.0),
    citations: float = typer.Option(0.0, help="Citation boost weight (0 = off; needs citation counts).", min=0.0),
    index: Optional[Path] = typer.Option(None, help="Index folder (default: the per-user data folder)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
):
    """Search the index; prints a ranked table (or JSON)."""
    from ..literature.index import LitIndex
    from ..literature.search import search

    results = search(LitIndex(_index_dir(index)), query, _options(k, since, until, category, mode, recency, citations))
    if as_json:
        print(json.dumps([{k2: v for k2, v in r.to_dict().items() if k2 != "abstract"} for r in results], indent=1))
    else:
        _print_results(results, f"{len(results)} papers for: {query}")


@app.command("ask")
@user_errors
def lit_ask(
    question: str = typer.Argument(..., help="A question about the literature."),
    k: int = typer.Option(5, "-k", help="Papers to retrieve and cite.", min=1),
    llm_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080 (llama.cpp server)."),
    gguf: Optional[Path] = typer.Option(None, help="Local GGUF model file (needs llama-cpp-python)."),
    model: str = typer.Option("default", help="Model name sent to the endpoint."),
    since: Optional[str] = typer.Option(None, help="Earliest date."),
    category: Optional[str] = typer.Option(None, help="Hard filter on an arXiv category."),
    mode: str = typer.Option("hybrid", help="hybrid, lexical or dense."),
    index: Optional[Path] = typer.Option(None, help="Index folder."),
):
    """Answer a question from retrieved papers, citing them as \\[n], then show the papers."""
    from ..literature.answer import answer
    from ..literature.index import LitIndex
    from ..literature.search import search

    results = search(LitIndex(_index_dir(index)), question, _options(k, since, None, category, mode, 0.0, 0.0))
    ans = answer(question, results, llm_url=llm_url, gguf=str(gguf) if gguf else None, model=model)
    out.print(f"[bold]Answer[/] ({ans.backend}): {ans.text}", highlight=False)
    _print_results(results, "sources")


@app.command("serve")
@user_errors
def lit_serve(
    index: Optional[Path] = typer.Option(None, help="Index folder."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (127.0.0.1: this machine only)."),
    port: int = typer.Option(8765, help="Port.", min=0, max=65535),
    llm_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint for answers (default: extractive)."),
):
    """Serve a local search page: search box, paper table with arXiv links, cited answer."""
    from ..literature.serve import make_server

    server = make_server(_index_dir(index), host=host, port=port, llm_url=llm_url)
    out.print(f"serving on http://{host}:{server.server_address[1]}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
