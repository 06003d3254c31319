"""Figures shared by the engine and the cases (posterior checks, training curves)."""

from .plots import coverage_plot, loss_plot, pair_plot, rank_histograms

__all__ = ["coverage_plot", "loss_plot", "pair_plot", "rank_histograms"]
