"""Maintainer script: train the shipped HI-cube models on simulations (2 CPU cores, ~40 min).

    python tools/train_hicube_models.py [detector] [characteriser] [calibration]

Writes ``src/sim2sky/cases/hicubes/models/detector`` (3-D U-Net segmenter, model folder kind
``segmenter``) and ``.../characteriser`` (NPE with a 3-D CNN embedding, kind ``npe``), and
``characteriser_calibration.json``: per-property factors on the NPE's posterior widths that make
+-1 sd intervals cover 68% of the truths of the U-Net's detections in six simulated cubes
(seeds 7000-7005; the benchmark uses 9000+). All from :mod:`sim2sky.cases.hicubes.simulate`
output (fixed seeds; no real data).
"""

import sys
import time
from pathlib import Path

import torch

from sim2sky.cases.hicubes.characterise import train_characteriser
from sim2sky.cases.hicubes.detector import train_detector, training_cubes
from sim2sky.cases.hicubes.forward import source_stamps
from sim2sky.infer import save_posterior

OUT = Path(__file__).resolve().parents[1] / "src" / "sim2sky" / "cases" / "hicubes" / "models"
torch.set_num_threads(2)
which = sys.argv[1:] or ["detector", "characteriser"]

if "detector" in which:
    t0 = time.perf_counter()
    x, y = training_cubes(600, seed=1)
    print(f"simulated {len(x)} training cubes in {time.perf_counter() - t0:.0f} s; positive fraction {y.mean():.4f}")
    seg = train_detector(x, y, epochs=6, progress=True)
    print("detector loss per epoch", [round(v, 4) for v in seg.history_["loss"]], f"{seg.history_['wall_time_s']:.0f} s")
    seg.save(OUT / "detector", provenance={"script": "tools/train_hicube_models.py", "cubes": len(x), "seed": 1},
             meta={"input": "clip(snr, -8, 8) / 4", "shape": list(x.shape[2:])})

if "characteriser" in which:
    t0 = time.perf_counter()
    stamps, props = source_stamps(8000, seed=2)
    print(f"simulated {len(stamps)} stamps in {time.perf_counter() - t0:.0f} s")
    npe = train_characteriser(stamps, props, epochs=25, progress=True)
    print("characteriser best epoch", npe.history_.get("best_epoch"), f"{npe.history_.get('wall_time_s', 0):.0f} s")
    npe.posterior_.x_names = None       # stamps: 27,648 voxels need no names in the model folder
    save_posterior(npe.posterior_, OUT / "characteriser", npe.train_config, npe.history_,
                   provenance={"script": "tools/train_hicube_models.py", "stamps": len(stamps), "seed": 2})

if "calibration" in which:
    import json

    import numpy as np

    from sim2sky.cases.hicubes import DetectConfig, find_sources, load_models, match_catalogue, simulate_cube

    seg, post = load_models(str(OUT / "detector"), str(OUT / "characteriser"))
    z = {k: [] for k in ("line_flux_integral", "w20", "hi_size", "i", "pa")}
    for seed in range(7000, 7006):
        cube, labels, truth, _ = simulate_cube(100, (128, 192, 192), seed=seed)
        found, cat = find_sources(cube, config=DetectConfig(method="unet"), models=(seg, post))
        d2t, _ = match_catalogue(found, labels)
        m, t = d2t > 0, d2t[d2t > 0] - 1
        for k in z:
            diff = cat[k + "_npe"][m] - truth[k][t]
            if k == "pa":
                diff = (diff + 180) % 360 - 180
            z[k].append(np.abs(diff) / np.maximum(cat[k + "_npe_err"][m], 1e-12))
    scale = {k: float(max(1.0, np.quantile(np.concatenate(v), 0.6827))) for k, v in z.items()}
    n = int(sum(len(v) for v in z["w20"]))
    print("width scale", {k: round(v, 2) for k, v in scale.items()}, "from", n, "matched detections")
    (OUT / "characteriser_calibration.json").write_text(json.dumps(
        {"width_scale": scale, "detections": n, "seeds": [7000, 7005], "finder": "unet",
         "script": "tools/train_hicube_models.py calibration"}, indent=1))
