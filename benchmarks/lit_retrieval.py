"""Retrieval quality and speed of the literature index on the shared QA set, plus a scale run.

Quality: ``qa_dev.jsonl`` questions against the 1,055 astro-ph.CO 2023 abstracts indexed
together with the 14k-abstract corpus as distractors; recall@1, recall@10, MRR@10 for
lexical-only, dense-only and hybrid retrieval; query latency p50/p95; build time and size.
Scale: ``--scale N`` indexes N synthetic documents (real abstracts recombined sentence by
sentence, with fresh ids) and reports build time, peak memory and p50 latency (lexical only:
embedding 10^6 abstracts at ~35/s on 2 cores would take 8 hours).

    python benchmarks/lit_retrieval.py [--index DIR] [--dense] [--scale 1000000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import _data  # noqa: F401  (the shared data mirror)
from sim2sky.core.data import dataset_root
from sim2sky.literature.corpus import Paper, read_corpus
from sim2sky.literature.index import LitIndex
from sim2sky.literature.search import SearchOptions, search


def folder_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def evaluate(idx, qa, mode, **kw):
    opts = SearchOptions(k=10, mode=mode, **kw)
    r1 = r10 = mrr = 0.0
    lat = []
    for q in qa:
        t0 = time.perf_counter()
        ids = [r.id for r in search(idx, q["question"], opts)]
        lat.append((time.perf_counter() - t0) * 1000)
        if ids and ids[0] == q["gold_doc_id"]:
            r1 += 1
        if q["gold_doc_id"] in ids:
            r10 += 1
            mrr += 1.0 / (ids.index(q["gold_doc_id"]) + 1)
    n = len(qa)
    lat.sort()
    return {"R@1": r1 / n, "R@10": r10 / n, "MRR@10": mrr / n, "p50_ms": statistics.median(lat), "p95_ms": lat[int(0.95 * n) - 1]}


def scale_run(n_docs: int, corpus: Path):
    base = list(read_corpus(corpus))
    sentences = [s for p in base for s in p.abstract.split(". ") if len(s) > 40]
    titles = [p.title for p in base if p.title]
    rng = random.Random(0)
    tmp = Path(tempfile.mkdtemp(prefix="lit-scale-"))
    idx = LitIndex(tmp, create=True)
    t0 = time.perf_counter()
    batch = 100_000
    for start in range(0, n_docs, batch):
        papers = [Paper(id=f"synth.{i:08d}", title=rng.choice(titles), abstract=". ".join(rng.sample(sentences, 6)),
                        categories=["astro-ph.CO"], date=f"20{rng.randint(10, 26)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}")
                   for i in range(start, min(start + batch, n_docs))]
        idx.add(papers)
    build_s = time.perf_counter() - t0
    queries = [". ".join(rng.sample(sentences, 1))[:120] for _ in range(200)]
    lat = []
    for q in queries:
        t1 = time.perf_counter()
        search(idx, q, SearchOptions(k=10, mode="lexical"))
        lat.append((time.perf_counter() - t1) * 1000)
    lat.sort()
    out = {"docs": len(idx), "build_s": build_s, "index_MB": folder_size(tmp) / 1e6,
           "peak_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "p50_ms": statistics.median(lat), "p95_ms": lat[189]}
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, default=None, help="Reuse an index folder (built here if missing).")
    ap.add_argument("--dense", action="store_true", help="Build/evaluate dense and hybrid retrieval (slow to embed).")
    ap.add_argument("--scale", type=int, default=0, help="Also run the synthetic scale test with this many documents.")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    corpus = dataset_root("corpus") / "corpus"      # 'sim2sky data fetch corpus' or SIM2SKY_DATA
    qa = [json.loads(line) for line in open(corpus / "qa_dev.jsonl")]
    folder = args.index or Path(tempfile.mkdtemp(prefix="lit-bench-"))
    results = {}
    if not (folder / "lexical").is_dir() or (args.dense and not (folder / "dense").is_dir()):
        idx = LitIndex(folder, create=True)
        t0 = time.perf_counter()
        papers = list(read_corpus(corpus / "astroph_2011_2026.jsonl.gz")) + list(read_corpus(corpus / "astroph_CO_2023.jsonl"))
        stats = idx.add(papers, dense=args.dense, progress=False)
        results["build"] = {"docs": len(idx), "seconds": time.perf_counter() - t0, "embedded": stats["embedded"]}
    idx = LitIndex(folder)
    results.setdefault("build", {"docs": len(idx)})
    results["build"]["lexical_MB"] = folder_size(folder / "lexical") / 1e6
    if (folder / "dense").is_dir():
        results["build"]["dense_MB"] = folder_size(folder / "dense") / 1e6
    modes = ["lexical"] + (["dense", "hybrid"] if idx.dense is not None else [])
    for mode in modes:
        results[mode] = evaluate(idx, qa, mode)
        print(mode, results[mode], flush=True)
    if args.scale:
        results["scale"] = scale_run(args.scale, corpus / "astroph_2011_2026.jsonl.gz")
        print("scale", results["scale"], flush=True)

    print(f"\n{results['build']['docs']} documents indexed; {len(qa)} questions")
    print("| retrieval | R@1 | R@10 | MRR@10 | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|")
    for mode in modes:
        r = results[mode]
        print(f"| {mode} | {r['R@1']:.3f} | {r['R@10']:.3f} | {r['MRR@10']:.3f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} |")
    if "scale" in results:
        s = results["scale"]
        print(f"\nscale: {s['docs']} docs, build {s['build_s']:.0f} s, index {s['index_MB']:.0f} MB, "
              f"peak RSS {s['peak_rss_MB']:.0f} MB, lexical p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
