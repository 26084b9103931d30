"""Shimmy's opt-in, anonymous usage metrics: consent, payload, validator, queue and send."""

__version__ = "0.1.0"
