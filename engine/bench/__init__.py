"""Benchmarks in the database: import, image data roots, statistics and sessions."""
