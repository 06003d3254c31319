"""Benchmarks read external datasets through the data registry; in the project tree the shared
folder beside the repository is the mirror (a user sets SIM2SKY_DATA or runs 'sim2sky data fetch')."""

import os
from pathlib import Path

_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
if "SIM2SKY_DATA" not in os.environ and _SHARED.is_dir():
    os.environ["SIM2SKY_DATA"] = str(_SHARED)
