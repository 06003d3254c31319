"""``sim2sky demo``: the embedded end-to-end demos (offline)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..core.errors import InputError
from .common import out, user_errors

__all__ = ["demo"]


@user_errors
def demo(
    out_dir: Path = typer.Option(Path("demo_out"), "--out", help="Folder for the cube, maps, report and tables."),
    case: str = typer.Option("cube", help="cube (the product demo) or npe (two-moons NPE with calibration checks)."),
    size: int = typer.Option(80, help="Mock cube size (spaxels per side).", min=8),
    seed: int = typer.Option(0, help="Random seed.", min=0),
    progress: bool = typer.Option(True, help="Show progress bars."),
):
    """Run the embedded demo end to end (offline)."""
    from rich.table import Table as RichTable

    if case == "npe":
        from ..cases.sbibm import run_npe_demo

        res = run_npe_demo(out_dir, num_simulations=10_000, seed=seed, progress=progress, log=out.print)
        t = RichTable("measure", "value", title="sim2sky demo: two moons NPE")
        t.add_row("training wall time", f"{res['train_s']:.1f} s ({res['epochs']} epochs)")
        if "c2st_obs1" in res:
            t.add_row("C2ST vs exact posterior (obs 1)", f"{res['c2st_obs1']:.3f} (0.5 = perfect)")
        t.add_row("1000 samples x 10 observations", f"{res['sample_s']:.2f} s")
        t.add_row("TARP max |ECP - level|", f"{res['tarp_max_error']:.3f}")
        out.print(t)
        return
    if case != "cube":
        raise InputError(f"--case: {case!r} is not a demo; choose cube or npe")
    from ..cases.nebulae import run_cube_demo

    r = run_cube_demo(out_dir, size=size, seed=seed, progress=progress, log=out.print)
    cm = RichTable("true \\ found", *r["classes"], title="spaxel confusion matrix (mock truth vs sim2sky)")
    for name, row in zip(r["classes"], r["confusion"]):
        if row.sum():
            cm.add_row(name, *[str(v) for v in row])
    out.print(cm)
    t = RichTable("measure", "value", title="sim2sky demo: mock MUSE cube")
    t.add_row("spectra", f"{r['n_spectra']} ({size}x{size}x3681)")
    t.add_row("accuracy / macro-F1 (spaxels with signal)", f"{r['accuracy_signal']:.3f} / {r['macro_f1_signal']:.3f}")
    t.add_row("12+log(O/H) bias / rms (HII spaxels)", f"{r['oh_bias']:+.3f} / {r['oh_rms']:.3f} dex ({r['n_hii_spaxels']} spaxels)")
    t.add_row("E(B-V) rms", f"{r['ebv_rms']:.3f} mag")
    t.add_row("velocity rms", f"{r['velocity_rms']:.1f} km/s")
    t.add_row("nebulae catalogued", ", ".join(f"{k} {v}" for k, v in r["nebulae"].items()))
    t.add_row("cube classify wall time", f"{r['wall_s']:.1f} s ({r['spectra_per_s']:.0f} spectra/s incl. start-up)")
    out.print(t)
    out.print(f"maps, nebulae.csv and report.html are in {out_dir}/")
