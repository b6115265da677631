"""Distributed workloads: launched by torchrun (torch.distributed.run), measured through
torch.distributed (NCCL on CUDA, gloo on CPU and Macs). Importing this package imports no torch."""
