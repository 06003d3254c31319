"""The radio case's table on the real MiraBest test split, as Markdown, from results_radio.json
(benchmarks/radio_mirabest.py wrote it). Used by the benchmarks page and the radio tutorial.

    python benchmarks/radio_table.py
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results_radio.json"
COLUMNS = (("accuracy_argmax", "accuracy"), ("macro_f1", "macro-F1"), ("ece", "ECE"), ("fr_accuracy", "FRI/FRII acc."),
           ("fri_recall", "FRI recall"), ("frii_recall", "FRII recall"), ("bent_recall", "bent recall"),
           ("accuracy_confident", "acc. confident"), ("accuracy_uncertain", "acc. uncertain"),
           ("unknown_rate", "called unknown"), ("seconds", "train s"))


def table(path: Path = RESULTS) -> str:
    r = json.loads(Path(path).read_text())
    split = r["split"]
    lines = [f"MiraBest test split: {split['test']} images ({', '.join(f'{k} {v}' for k, v in split['test_counts'].items())});"
             f" hybrids are left out of the columns (they are not a class). Accuracy and macro-F1 of the arg-max class "
             f"over FRI, FRII and Bent; FRI/FRII accuracy with bent tails counted as FRI, as MiraBest labels them.", "",
             "| row | " + " | ".join(c[1] for c in COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    for name, row in r["rows"].items():
        cells = [f"{row[k]:.3f}" if k != "seconds" else f"{row[k]:.0f}" for k, _ in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    b45 = r.get("beam45", {})
    if b45:
        lines += ["", "The same test images smoothed to a 45\" beam on 14.4\" pixels (NVSS-like), through `predict`: "
                  + "; ".join(f"{k}: FRI/FRII accuracy {v['fr_accuracy']:.3f}" for k, v in b45.items()) + "."]
    lat = r.get("latent", {})
    if "c2st" in lat:
        lines += ["", f"Real vs simulated images in the theory network's features: C2ST accuracy {lat['c2st']:.3f} "
                  "(0.5 = indistinguishable)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(table())
