"""Background work: one Run table (models.py) and one Runner base class (runner.py, whose docstring says how to write
a new kind of work), one sweeper (sweeper.py)."""
