"""Mega Awesome Toys medallion pipeline as a Dagster code location (chapter 09)."""
