"""licence-bot infrastructure: everything that talks to the outside world."""

__version__ = "0.1.0"
