"""NeuroOnco Workbench engine: I/O, semantics, jobs, inference, benchmarks, pipeline and
fine-tuning. Nothing here imports Qt."""

__version__ = "0.1.0"
