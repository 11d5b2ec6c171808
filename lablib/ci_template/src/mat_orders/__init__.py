"""Mega Awesome Toys: the silver cleaning of the raw orders."""

from mat_orders.clean import clean_orders, dedupe_latest, normalise

__all__ = ["clean_orders", "dedupe_latest", "normalise"]
__version__ = "0.1.0"
