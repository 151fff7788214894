"""Settings live in submodules: ``local`` (what ``./kiss serve`` uses), ``production`` and ``test``."""
