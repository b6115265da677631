"""Control for the distributed launch's exit: the worker exactly as `python -m
collectors.distributed.worker`, except that the compiled code and the CUDA graphs it captured (NCCL
all-reduces inside) are left alive through destroy_process_group, as before the worker freed them.
Started by torchrun with the worker's own arguments:

    python3 -m torch.distributed.run --standalone --nproc-per-node 2 benchmarks/dist_exit_control.py \
        --data DIR --machine ID --started-at ISO-TIME --suite standard --workloads decode-tp --scales 2
"""

from __future__ import annotations

import sys

from collectors.distributed import worker

if __name__ == "__main__":
    worker._release_cuda_graphs = lambda: None  # noqa: SLF001 - the one difference from the worker
    worker.main(sys.argv[1:])
