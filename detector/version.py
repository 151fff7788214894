"""The detector's version: written into model cards and the embedding cache's keys."""

__version__ = "0.1.0"
