"""Orchestrated pipelines of the course (chapter 09): Dagster code locations."""
