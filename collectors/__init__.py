"""costperf collectors: the schema, the data store, probes, workloads, meters, importers and prices.

Importing this package must stay cheap and must not import torch.
"""
