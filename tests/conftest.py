import os
from pathlib import Path

import numpy as np
import pytest
import torch

# Tests and benchmarks find the external datasets through the data registry; here the project's
# shared folder is the local mirror (a user points SIM2SKY_DATA at theirs, or runs 'sim2sky data fetch').
_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
if "SIM2SKY_DATA" not in os.environ and _SHARED.is_dir():
    os.environ["SIM2SKY_DATA"] = str(_SHARED)
os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(2)

from sim2sky.core.data import available, dataset_root  # noqa: E402


def needs(*names):
    """Skip unless the registry datasets ``names`` are available (mirror or cache)."""
    missing = [n for n in names if not available(n)]
    return pytest.mark.skipif(bool(missing), reason=f"needs dataset(s) {', '.join(missing)}: set SIM2SKY_DATA to "
                                                    f"a mirror or run 'sim2sky data fetch {' '.join(missing)}'")


@pytest.fixture(scope="session")
def data_dir():
    """Root of the shared data mirror (skips the test when absent)."""
    if not available("sbibm"):
        pytest.skip("shared reference data not found: set SIM2SKY_DATA (see 'sim2sky data list')")
    return dataset_root("sbibm")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
