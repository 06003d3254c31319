"""Sphinx configuration of the sim2sky documentation (``make docs``: warnings are errors).

The benchmarks page is generated here from ``benchmarks/results_*.json`` at every build, so its
figures cannot drift from the result files; the tutorials are MyST notebooks executed at build.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# the project's shared folder is the local data mirror, as for the tests (SIM2SKY_DATA wins)
_SHARED = ROOT.parent / "shared" / "data"
if "SIM2SKY_DATA" not in os.environ and _SHARED.is_dir():
    os.environ["SIM2SKY_DATA"] = str(_SHARED)

project = "sim2sky"
author = "the sim2sky developers"
copyright = "2026, the sim2sky developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.mathjax", "numpydoc", "myst_nb"]
exclude_patterns = ["_build", "jupyter_execute", "**.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
html_theme = "alabaster"
html_static_path = []
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
autodoc_inherit_docstrings = False      # torch's own docstrings reference torch's labels
numpydoc_show_class_members = False
myst_heading_anchors = 3
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_in_temp = True          # files a tutorial writes stay out of the source tree
nb_execution_show_tb = True
# tutorials on registry datasets are shown unexecuted where the data is missing (not a build error)
from sim2sky.core.data import available  # noqa: E402

nb_execution_excludepatterns = ([] if available("sn-templates") else ["tutorials/supernovae.md"]) + \
    ([] if available("miles") else ["tutorials/trust.md"]) + ([] if available("mirabest") else ["tutorials/radio.md"])
suppress_warnings = ["myst.header"]


# --- docstrings written for the terminal, read as reStructuredText ------------------------------
_LITERAL = re.compile(r"(``.*?``)")


def _escape(text: str) -> str:
    """Escape what reST reads as markup in plain-text docstrings: shapes such as ``(n, *grid)``,
    norms such as ``|k|`` and attribute names with a trailing underscore."""
    text = re.sub(r"(?<=[(\[,\s])\*(?=[A-Za-z_])", r"\\*", text)
    text = re.sub(r"\|([^|\n`]{1,20})\|", r"\\|\1\\|", text)
    return re.sub(r"\b([A-Za-z0-9]+)_(?=[\s.,;:)]|$)", r"\1\\_", text)


def _process(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if line.startswith("    ") and i and not lines[i - 1].strip():
            continue                    # literal blocks stay as written
        lines[i] = "".join(part if part.startswith("``") else _escape(part) for part in _LITERAL.split(line))


# --- the benchmarks page, from the result files ---------------------------------------------------
def _scalars(d, prefix=""):
    for key, value in d.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _scalars(value, path + " / ")
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, (int, float)):
            yield path, value
        elif isinstance(value, str) and len(value) < 80:
            yield path, value


def _benchmarks_page(app):
    out = ["# Benchmarks", "",
           "Generated at every documentation build from `benchmarks/results_*.json` (the numbers the "
           "benchmark scripts wrote; nothing typed by hand). How each was run is in the script named "
           "after the file and in the case guide.", ""]
    summary = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "npe_summary.py")], capture_output=True,
                             text=True, check=True).stdout
    out += ["## NPE against sbi on the sbibm tasks", "", "From `benchmarks/npe_summary.py`:", "", summary, ""]
    radio = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "radio_table.py")], capture_output=True,
                           text=True, check=True).stdout
    peers = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "peers_table.py")], capture_output=True,
                           text=True, check=True).stdout
    out += ["## Every peer", "", "From `benchmarks/peers_table.py`: each comparison, whether the peer is the real "
            "tool or our own re-implementation (and why), and the same-run figure from its results file.", "",
            peers, ""]
    out += ["## Radio galaxies on real MiraBest images", "", "From `benchmarks/radio_table.py`:", "", radio, ""]
    speed = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "speed_table.py")], capture_output=True,
                           text=True, check=True).stdout
    out += ["## Speed, cold and end to end", "", "From `benchmarks/speed_table.py`:", "", speed, ""]
    for path in sorted((ROOT / "benchmarks").glob("results_*.json")):
        rows = list(_scalars(json.loads(path.read_text())))
        if not rows:
            continue
        out += [f"## `{path.name}`", "", "| quantity | value |", "|---|---|"]
        for key, value in rows[:400]:
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            out.append(f"| {key.replace('|', '/')} | {shown.replace('|', '/')} |")
        if len(rows) > 400:
            out.append(f"| ... {len(rows) - 400} more in the file | |")
        out.append("")
    target = HERE / "benchmarks.md"
    text = "\n".join(out) + "\n"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def _skip(app, what, name, obj, skip, options):
    """The estimator protocol's methods (get_params, set_params; set_*_request on scikit-learn
    classes): documented by scikit-learn, with references into its own docs."""
    if name in ("get_params", "set_params", "get_metadata_routing") or (name.startswith("set_") and
                                                                         name.endswith("_request")):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip)
    app.connect("autodoc-process-docstring", _process)
    app.connect("builder-inited", _benchmarks_page)
