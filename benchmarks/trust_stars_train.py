"""Train the stellar-parameter NPE variants of the stars table (issue 32): + model error,
+ noise augmentation, + DANN. Each uses the shipped model's recipe (40,000 ATLAS9 stars, seed 0,
3-member MAF ensemble, 60 epochs); only the MILES *calibration* half is used (error model, DANN
target). The theory-only row is the model shipped before issue 32 (git history); ``model_error``
is the one shipped now. Restore theory_only with
``git show d992b6e:src/sim2sky/cases/spectra/models/stars/FILE`` for its three files. Writes sealed model folders under
``--out``; ``trust_stars.py`` evaluates them.

    SIM2SKY_DATA=../shared/data python benchmarks/trust_stars_train.py --out benchmarks/out/stars_variants
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sim2sky.cases.spectra.evaluate import miles
from sim2sky.cases.spectra.pipeline import star_grid_inputs
from sim2sky.cases.spectra.realstars import fit_star_model_error, miles_split, star_residuals
from sim2sky.cases.spectra.training import train_stars
from sim2sky.infer import save_posterior
from sim2sky.infer.model_error import remove_smooth


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="benchmarks/out/stars_variants")
    ap.add_argument("--n-stars", type=int, default=40000)
    ap.add_argument("--variants", default="model_error,noise,dann")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    s = miles()
    cal, _ = miles_split(len(s))
    scal = s[cal]
    err = fit_star_model_error(scal)
    d = star_residuals(scal)
    rms = float(np.sqrt(np.average(remove_smooth(d["residual"], 3, d["weight"]) ** 2, weights=d["weight"])))
    (out / "model_error.json").write_text(json.dumps({**err.to_dict(), "residual_rms": rms, "n_stars": len(scal)}))
    print(f"error model on {err.n_fit_} MILES calibration stars: explained {err.explained_variance_ratio_.round(3)}, "
          f"residual rms {rms:.4f}", flush=True)
    for name in args.variants.split(","):
        if (out / name).is_dir():
            print(f"{name}: exists, skipped")
            continue
        t0 = time.perf_counter()
        kw = {"model_error": err} if name == "model_error" else {"augment_noise": rms} if name == "noise" else \
            {"x_target": star_grid_inputs(scal, "mean")[0]}
        npe, _ = train_stars(args.n_stars, seed=0, **kw)
        extra = {"model_error": err.to_dict()} if name == "model_error" else {"augment_noise": rms} if name == "noise" else {}
        save_posterior(npe.posterior_, out / name, history=npe.history_,
                       provenance={**extra, "seed": 0, "n_stars": args.n_stars, "normalise": "mean", "variant": name,
                                   "theory": "ATLAS9 (Castelli & Kurucz 2004)", "parameters": ["TEFF", "LOGG", "FEH"],
                                   "miles_calibration_stars": len(scal)})
        print(f"{name}: trained in {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
