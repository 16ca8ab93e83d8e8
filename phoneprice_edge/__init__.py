"""phoneprice_edge: train a small tabular classifier, export it to edge runtimes and prove parity."""

__version__ = "0.1.0"
