"""What `./kiss serve` runs on one machine: production-grade server, plain HTTP on the local network."""

from kissweb.settings.base import *  # noqa: F403
