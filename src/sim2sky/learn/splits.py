"""Train / calibration / test splits that keep every object (a star, a supernova) in one part."""

from __future__ import annotations

import numpy as np

__all__ = ["group_split"]


def group_split(groups, fractions=(0.6, 0.2, 0.2), seed: int = 0) -> tuple[np.ndarray, ...]:
    """Boolean masks, one per fraction, assigning all rows of a group to the same part.

    ``groups`` (n,) the group key of each row (several spectra of one supernova, several TCEs of
    one star); each distinct key draws its part at random with probabilities ``fractions``, so
    the parts hold about those fractions of the groups (not of the rows).
    """
    uniq, inverse = np.unique(np.asarray(groups), return_inverse=True)
    u = np.random.default_rng(seed).random(len(uniq))
    part = np.searchsorted(np.cumsum(fractions) / np.sum(fractions), u, side="right")[inverse.ravel()]
    return tuple(part == i for i in range(len(fractions)))
