"""Distributed workloads: launched by torchrun (torch.distributed.run), measured through
torch.distributed (NCCL on CUDA, gloo on CPU and Macs). Importing this package imports no torch."""

WORKLOADS = ("allreduce", "train-gpt2-ddp", "train-llama-fsdp", "decode-tp")
"""The distributed workloads, in the order a launch runs them when none is named."""
