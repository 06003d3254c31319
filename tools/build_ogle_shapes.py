"""Build the shipped OGLE-III shape table of the light-curve simulator (cases/variables/data/ogle3_shapes.npz).

Usage: SIM2SKY_DATA=../shared/data python tools/build_ogle_shapes.py
"""

from pathlib import Path

import numpy as np

from sim2sky.cases.variables import read_ogle3
from sim2sky.cases.variables.lcsim import build_shape_table

out = Path(__file__).resolve().parents[1] / "src/sim2sky/cases/variables/data/ogle3_shapes.npz"
table = build_shape_table(read_ogle3(), n_per_class=3000, seed=0)
np.savez_compressed(out, **table)
for k, v in table.items():
    print(k, v.shape, "P", np.percentile(v[:, 0], [5, 50, 95]).round(3), "A_I", np.percentile(v[:, 1], [5, 50, 95]).round(2))
print("wrote", out, out.stat().st_size, "bytes")
