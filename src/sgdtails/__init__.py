"""sgdtails: heavy tails of SGD iterates, measured and predicted."""

__version__ = "0.1.0"
