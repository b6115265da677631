"""The standard workload suite: LLM inference, training, micro-benchmarks, the toy check, fit.
Importing this package imports torch."""
