"""Literature assistant: ingest astro-ph metadata, hybrid search, answers with citations, local page."""

from .answer import Answer, answer, extractive_answer
from .corpus import Paper, read_corpus
from .index import LitIndex, default_index_dir
from .search import Result, SearchOptions, search
from .serve import make_server

__all__ = ["Answer", "answer", "extractive_answer", "Paper", "read_corpus", "LitIndex", "default_index_dir",
           "Result", "SearchOptions", "search", "make_server"]
