"""Give the shipped radio classifier test-time averaging over rotations (issue 33), in place.

The shipped network (``sim2sky radio train``, one view) gets its backbone orbit-pooled over
0 and 180 deg (:func:`sim2sky.cases.radio.orbit_pooled`, what ``sim2sky radio train`` now does
by default with ``views=c2``; ``c4`` and ``d4`` on request); its temperature and "unknown"
statistics are refitted on the same sets the training used: the MiraBest calibration split, plus the 3,000 calibration simulations
(``training_set(3000, seed=1001)``) for the "unknown" statistics. The test split is not read.

    SIM2SKY_DATA=../shared/data python tools/radio_views.py [c2|c4|d4]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from sim2sky.cases.radio import CLASSES, labelled_grid, load, mirabest_splits, orbit_pooled, training_set


def main(group: str = "c2") -> None:
    shipped = load()
    clf = shipped.classifier_
    if clf.network_.spec()["backbone"]["kind"] == "d4":
        raise SystemExit("the shipped radio classifier is already orbit-pooled")
    xrc, yrc = labelled_grid(mirabest_splits()["calibration"])
    xc, yc, _ = training_set(3000, 1001)
    yci = np.array([CLASSES.index(c) for c in yc])
    pooled = orbit_pooled(clf, group, xrc, yrc, np.concatenate([xrc, xc]), np.concatenate([yrc, yci]))
    prov = {**clf.provenance_, "views": group,
            "views_added": f"orbit pooling over {group} added to the trained network (tools/radio_views.py); temperature "
                           f"{clf.temperature_:.4f} -> {pooled.temperature_:.4f} and the 'unknown' statistics refitted on "
                           "the MiraBest calibration split (+ 3,000 calibration simulations)"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "classifier"
        pooled.save(out, provenance=prov, metrics=clf.metrics_)
        shutil.copytree(out, shipped.model, dirs_exist_ok=True)
    print(prov["views_added"])


if __name__ == "__main__":
    main(*sys.argv[1:2])
