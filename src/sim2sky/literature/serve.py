"""A local web page for the literature assistant (standard-library HTTP server).

Binds to 127.0.0.1 by default. ``GET /?q=...`` renders the paper table and the answer;
``GET /api/search?q=...`` returns JSON. Every string from the corpus is HTML-escaped.
"""

from __future__ import annotations

import html
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from ..core.errors import InputError
from .answer import answer
from .index import LitIndex
from .search import SearchOptions, search

__all__ = ["make_server"]

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>sim2sky literature</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
input[type=text]{{width:70%;font-size:1.1rem;padding:.3rem}} table{{border-collapse:collapse;width:100%;margin-top:1rem}}
td,th{{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}} .answer{{background:#f4f6fa;padding:.8rem;margin-top:1rem}}
.rel{{font-variant-numeric:tabular-nums}}</style></head><body>
<h1>sim2sky literature assistant</h1>
<form method="get" action="/"><input type="text" id="q" name="q" value="{q}" placeholder="Ask about the astro-ph literature" autofocus>
<button type="submit" id="go">Search</button></form>{body}</body></html>"""


def _render(idx: LitIndex, q: str, opts: SearchOptions, llm_url: str | None) -> str:
    if not q:
        return _PAGE.format(q="", body=f"<p>{len(idx)} papers indexed.</p>")
    try:
        results = search(idx, q, opts)
        ans = answer(q, results, llm_url=llm_url)
    except InputError as exc:
        return _PAGE.format(q=html.escape(q), body=f"<p class='error'>{html.escape(str(exc))}</p>")
    text = html.escape(ans.text)
    for n in ans.cited:  # clickable citations: only the answerer's own, never a marker it did not make
        text = text.replace(f"[{n}]", f"<a href='#paper-{n}'>[{n}]</a>")
    rows = "".join(
        f"<tr id='paper-{i + 1}'><td>{i + 1}</td><td><a href='https://arxiv.org/abs/{html.escape(r.id)}'>{html.escape(r.id)}</a></td>"
        f"<td class='rel'>{r.score:.3f}</td><td>{html.escape(r.date)}</td><td>{html.escape(r.title)}</td>"
        f"<td>{html.escape(r.first_author)}</td></tr>" for i, r in enumerate(results))
    body = (f"<div class='answer' id='answer'><b>Answer</b> ({ans.backend}): {text}</div>"
            f"<table id='results'><tr><th>#</th><th>arXiv id</th><th>relevance</th><th>date</th><th>title</th><th>first author</th></tr>{rows}</table>")
    return _PAGE.format(q=html.escape(q), body=body)


def make_server(index_dir, host: str = "127.0.0.1", port: int = 8765, llm_url: str | None = None,
                opts: SearchOptions = SearchOptions()) -> ThreadingHTTPServer:
    """Create (not start) the server; ``server.serve_forever()`` runs it."""
    idx = LitIndex(index_dir)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet by default
            pass

        def _send(self, code: int, body: str, ctype: str):
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlparse(self.path)
            q = parse_qs(url.query).get("q", [""])[0].strip()[:500]
            with lock:
                if url.path == "/api/search":
                    try:
                        res = [r.to_dict() for r in search(idx, q, opts)]
                        self._send(200, json.dumps(res), "application/json")
                    except InputError as exc:
                        self._send(400, json.dumps({"error": str(exc)}), "application/json")
                elif url.path == "/":
                    self._send(200, _render(idx, q, opts, llm_url), "text/html; charset=utf-8")
                else:
                    self._send(404, "not found", "text/plain")

    return ThreadingHTTPServer((host, port), Handler)
