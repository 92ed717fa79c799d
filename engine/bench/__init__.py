"""Benchmark sessions without a database or a model: closed questions, the two settings, the
letter parser, baselines, metrics, scoring of prediction files and reports."""
