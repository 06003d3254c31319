"""sim2sky: train on theory, apply to the sky, with errors."""

__version__ = "0.2.0"
__all__ = ["__version__"]
