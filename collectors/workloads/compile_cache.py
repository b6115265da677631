"""Where torch.compile keeps what it has compiled, so that a run reuses what earlier runs compiled.

Inductor caches compiled graphs (the FX graph cache), Triton kernels and autotuning results
(coordinate-descent and max-autotune choices) on disk. Its default folder, /tmp/torchinductor_USER,
is lost on reboot and on the fresh containers benchmark hosts often are; a folder under the user's
cache keeps them across runs on the same host, and every task of a run shares them. A folder the
caller already set (TORCHINDUCTOR_CACHE_DIR) is kept.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "costperf" / "inductor"


def use_persistent_cache() -> dict[str, str | bool]:
    """Point inductor (and Triton, which inductor puts under it) at the persistent folder and turn
    its local caches on; returns the settings, to be recorded with the run."""
    path = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if not path:
        path = str(default_dir())
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = path
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # inductor reports an unwritable folder itself, where it matters
    import torch._inductor.config as inductor  # noqa: PLC0415

    inductor.fx_graph_cache = True
    inductor.autotune_local_cache = True
    return {"inductor_cache_dir": path, "fx_graph_cache": True, "autotune_local_cache": True}
