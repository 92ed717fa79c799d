"""The instruction pipeline: silver labels from two model runs, their fusion and audit, AIR,
and template generation of instruction data and benchmarks from metadata, mask semantics
and silver labels. Qt-free. See docs/pipeline.md for the stages and their rules."""
