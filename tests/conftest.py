import os

import numpy as np
import pytest
import torch

from sim2sky.cases.sbibm import shared_data_dir

os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(2)


@pytest.fixture(scope="session")
def data_dir():
    d = shared_data_dir()
    if d is None:
        pytest.skip("shared reference data (../shared/data or $SIM2SKY_DATA) not found")
    return d


@pytest.fixture
def rng():
    return np.random.default_rng(0)
