"""Maintainer script: train the shipped deblending models on GalSim simulations (2 CPU cores).

    python tools/train_blend_models.py [n_stamps] [epochs]

Writes ``src/sim2sky/cases/blends/models/detector`` (centre heat-map U-Net) and
``.../fractions`` (flux-fraction U-Net), model folders of kind ``segmenter``. Simulations only
(seed 1); the benchmark and tests use other seeds.
"""

import sys
import time
from pathlib import Path

import torch

from sim2sky.cases.blends.deblender import train_blend_detector, train_fraction_network
from sim2sky.cases.blends.forward import simulate_blends

OUT = Path(__file__).resolve().parents[1] / "src" / "sim2sky" / "cases" / "blends" / "models"
torch.set_num_threads(2)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 8

t0 = time.perf_counter()
images, isolated, truth = simulate_blends(n, seed=1)
print(f"simulated {n} blend stamps in {time.perf_counter() - t0:.0f} s")
det = train_blend_detector(images, truth, epochs=epochs, progress=True)
print("detector loss", [round(v, 4) for v in det.history_["loss"]], f"{det.history_['wall_time_s']:.0f} s")
det.save(OUT / "detector", provenance={"script": "tools/train_blend_models.py", "stamps": n, "seed": 1},
         meta={"input": "asinh(image / (2 noise))", "target": "centre heat map, sigma 1.5 px"})
frac = train_fraction_network(images, isolated, truth, epochs=epochs, progress=True)
print("fractions loss", [round(v, 4) for v in frac.history_["loss"]], f"{frac.history_['wall_time_s']:.0f} s")
frac.save(OUT / "fractions", provenance={"script": "tools/train_blend_models.py", "stamps": n, "seed": 1},
          meta={"input": "[asinh image, this centre, other centres]", "target": "I_k / sum_j I_j"})
