"""Benchmarks: import into the database, image data roots, statistics, the letter parser,
the two settings, baselines, metrics, scoring of prediction files, sessions and reports."""
