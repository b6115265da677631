"""Distributed workloads: torchrun with two gloo ranks on this CPU, plus the pure pieces
(scaling efficiency, nccl-tests bandwidth, topology parsing, energy summing)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import foundation_data as fd
from collectors import store
from collectors.distributed import assemble, interconnect, scaling
from collectors.distributed.launcher import LaunchOptions, torchrun_argv
from collectors.records import Distributed, RankFigure

ROOT = Path(__file__).resolve().parent.parent
COSTPERF = [sys.executable, "-m", "collectors.cli"]


# ---------------------------------------------------------------------------------------------
# Pure functions


def test_scaling_efficiency_definition() -> None:
    assert scaling.scaling_efficiency(1800.0, 2, 1000.0) == pytest.approx(0.9)
    assert scaling.scaling_efficiency(1000.0, 1, 1000.0) == 1.0
    with pytest.raises(ValueError):
        scaling.scaling_efficiency(1.0, 0, 1.0)
    with pytest.raises(ValueError):
        scaling.scaling_efficiency(0.0, 2, 1.0)


def test_allreduce_bandwidth_as_nccl_tests() -> None:
    # nccl-tests: busbw = algbw x 2(n-1)/n; 1 GiB in 10 ms on 8 ranks
    size, t = 1 << 30, 0.010
    assert scaling.algbw_gbps(size, t) == pytest.approx(107.374, rel=1e-4)
    assert scaling.busbw_gbps(size, t, 8) == pytest.approx(107.374 * 14 / 8, rel=1e-4)
    assert scaling.allreduce_bus_factor(2) == 1.0
    assert scaling.allreduce_bus_factor(1) == 0.0


def test_group_cost_and_energy_helpers() -> None:
    assert scaling.group_hourly_price(43.26, 8, 2) == pytest.approx(10.815)
    assert scaling.tokens_per_dollar(1000.0, 3.6) == pytest.approx(1e6)
    assert scaling.tokens_per_joule(1000.0, 500.0) == 2.0
    with pytest.raises(ValueError):
        scaling.group_hourly_price(10.0, 2, 4)


def test_scaling_module_imports_no_torch() -> None:
    code = "import sys, collectors.distributed.scaling, collectors.distributed.interconnect; " \
           "assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_scaling_table_from_result_dicts() -> None:
    def result(n: int, tps: float) -> dict:
        return {"workload": "train-gpt2-ddp", "status": "ok", "params": {"model": "gpt2-124m", "batch": 16},
                "throughput": {"median": tps}, "distributed": {"world_size": n}}

    rows = scaling.scaling_table([result(1, 100.0), result(2, 190.0), result(4, 360.0),
                                  {"workload": "allreduce", "status": "ok"}], "train-gpt2-ddp")
    assert [(r["world_size"], r["efficiency"]) for r in rows] == [(1, 1.0), (2, 0.95), (4, 0.9)]


TOPO = """\tGPU0\tGPU1\tGPU2\tGPU3\tNIC0\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID
GPU0\t X \tNV18\tNV18\tSYS\tPXB\t0-47\t0\t\tN/A
GPU1\tNV18\t X \tNV18\tSYS\tSYS\t0-47\t0\t\tN/A
GPU2\tNV18\tNV18\t X \tSYS\tSYS\t0-47\t0\t\tN/A
GPU3\tSYS\tSYS\tSYS\t X \tSYS\t48-95\t1\t\tN/A
NIC0\tPXB\tSYS\tSYS\tSYS\t X

Legend:

  X    = Self
  NV#  = Connection traversing a bonded set of # NVLinks
"""


def test_topology_matrix_gives_slowest_link() -> None:
    matrix = interconnect.parse_topo_matrix(TOPO)
    assert matrix[(0, 1)] == "NV18" and matrix[(0, 3)] == "SYS"
    assert interconnect.gpu_link(matrix, [0, 1, 2]).kind == "nvlink"
    mixed = interconnect.gpu_link(matrix, [0, 1, 3])
    assert mixed.kind == "pcie" and "GPU0-GPU3" in mixed.detail
    assert interconnect.gpu_link(matrix, [0, 7]).kind == "unknown"


def test_network_interfaces_classified() -> None:
    assert interconnect.classify_interface("ib0", "32").kind == "infiniband"
    assert interconnect.classify_interface("eth0", "1", speed_mbps=100000).detail.endswith("100 Gb/s")
    ports = interconnect.parse_macos_ports("Hardware Port: Thunderbolt Bridge\nDevice: bridge0\nEthernet Address: N/A\n\n"
                                           "Hardware Port: Ethernet\nDevice: en0\n")
    assert interconnect.classify_interface("bridge0", macos_port=ports["bridge0"]).kind == "thunderbolt"
    assert interconnect.classify_interface("en0", macos_port=ports["en0"]).kind == "ethernet"
    assert interconnect.classify_interface("thunderbolt0").kind == "thunderbolt"


def test_rdma_adapters_read_from_sysfs(tmp_path: Path) -> None:
    assert interconnect.rdma_link(tmp_path / "absent") is None
    (tmp_path / "ib").mkdir()
    assert interconnect.rdma_link(tmp_path / "ib") is None
    (tmp_path / "ib" / "mlx5_0").mkdir()
    link = interconnect.rdma_link(tmp_path / "ib")
    assert link is not None and link.kind == "infiniband" and "mlx5_0" in link.detail


def _payload(rank: int, node: int, joules: float | None, covers: str = "gpu_board") -> dict:
    return {"rank": rank, "local_rank": rank, "node_rank": node, "host": "h", "device": "cpu",
            "seconds": [0.5, 0.25], "window_s": 0.8, "joules": joules, "method": "nvml", "covers": covers,
            "update_period_s": 0.02, "meter_reason": None if joules else "no meter", "peak_memory_gb": None,
            "tokens": 20, "compile_s": 0.1}


def test_group_energy_sums_per_gpu_meters_and_counts_host_meters_once() -> None:
    per_gpu = [_payload(0, 0, 100.0), _payload(1, 0, 120.0)]
    energy, _, counted = assemble.group_energy(per_gpu, 40.0)
    assert energy is not None and energy.joules == 220.0 and counted == {0: 100.0, 1: 120.0}
    host = [_payload(0, 0, 100.0, "cpu_package"), _payload(1, 0, 101.0, "cpu_package"),
            _payload(2, 1, 90.0, "cpu_package")]
    energy, _, counted = assemble.group_energy(host, 60.0)
    assert energy is not None and energy.joules == 190.0 and set(counted) == {0, 2}
    missing = [_payload(0, 0, 100.0), _payload(1, 0, None)]
    energy, note, _ = assemble.group_energy(missing, 40.0)
    assert energy is None and note == "rank 1: no meter"


def test_aggregate_uses_slowest_rank_and_rejects_uneven_repeats() -> None:
    a, b = _payload(0, 0, None), _payload(1, 0, None)
    b["seconds"] = [0.4, 0.5]
    assert assemble.aggregate_samples([a, b], 100.0) == [200.0, 200.0]
    assert assemble.aggregate_samples([a, b], 100.0, "mean") == [pytest.approx(100 / 0.45), pytest.approx(100 / 0.375)]
    b["seconds"] = [0.4]
    with pytest.raises(ValueError, match="different repeat counts"):
        assemble.aggregate_samples([a, b], 100.0)


def test_distributed_block_checks_ranks_and_token_total() -> None:
    fig = [RankFigure(rank=r, local_rank=r, node_rank=0, device="cpu", tokens=10) for r in range(2)]
    kw = dict(world_size=2, launched_world_size=2, nodes=1, nproc_per_node=2, backend="gloo", interconnect="loopback")
    assert Distributed(per_rank=fig, tokens_total=20, **kw).tokens_total == 20
    with pytest.raises(ValueError, match="add up"):
        Distributed(per_rank=fig, tokens_total=21, **kw)
    with pytest.raises(ValueError, match="entries for world_size"):
        Distributed(per_rank=fig[:1], **kw)


def test_torchrun_arguments() -> None:
    start = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    one = torchrun_argv(LaunchOptions(Path("d"), "m", 8), start)
    assert one[:5] == ["--nproc-per-node", "8", "--max-restarts", "0", "--standalone"]
    assert one[5:7] == ["-m", "collectors.distributed.worker"]
    two = torchrun_argv(LaunchOptions(Path("d"), "m", 8, nnodes=2, rdzv_endpoint="10.0.0.1:29500"), start)
    assert "--standalone" not in two and two[two.index("--rdzv-endpoint") + 1] == "10.0.0.1:29500"
    assert two[two.index("--rdzv-backend") + 1] == "c10d"
    with pytest.raises(ValueError, match="rdzv-endpoint"):
        torchrun_argv(LaunchOptions(Path("d"), "m", 8, nnodes=2), start)


# ---------------------------------------------------------------------------------------------
# torchrun, two gloo ranks on this CPU


def _data(tmp_path: Path) -> Path:
    return fd.write_folder(tmp_path / "data", runs=[])


def _costperf(args: list[str], env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(ROOT)}
    full.pop("COSTPERF_FAULT", None)
    full.update(env or {})
    return subprocess.run(COSTPERF + args, cwd=ROOT, env=full, capture_output=True, text=True, timeout=timeout)


def _run_files(data: Path) -> list[Path]:
    return sorted((data / "runs" / "test-desktop").glob("*"))


def test_two_gloo_ranks_ddp_and_allreduce(tmp_path: Path) -> None:
    data = _data(tmp_path)
    out = _costperf(["run", "--suite", "quick", "--machine", "test-desktop", "--data", str(data), "--device", "cpu",
                     "--nproc-per-node", "2", "--workload", "allreduce", "--workload", "train-gpt2-ddp",
                     "--energy", "off"])  # zeus finds no meter on this CPU anyway; importing it costs seconds
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    files = _run_files(data)
    assert len(files) == 1 and files[0].suffix == ".json"
    check = subprocess.run(COSTPERF + ["validate", "--data", str(data)], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    run = json.loads(files[0].read_text())
    assert run["status"] == "complete" and run["environment"]["settings"]["world_size"] == 2
    assert run["environment"]["settings"]["nccl_nvls_enable"] == "0"
    by = {(r["workload"], r["distributed"]["world_size"], r["outputs"].get("size_bytes")): r for r in run["results"]}
    assert set(by) == {("allreduce", 2, 1 << 16), ("allreduce", 2, 1 << 20), ("train-gpt2-ddp", 1, None),
                       ("train-gpt2-ddp", 2, None)}
    for r in run["results"]:
        assert r["status"] == "ok" and r["distributed"]["backend"] == "gloo"
        assert r["distributed"]["launched_world_size"] == 2 and r["distributed"]["nodes"] == 1
        assert r["energy"] is None and "turned off" in r["energy_note"]  # None with the reason, never 0

    ar = by[("allreduce", 2, 1 << 20)]
    assert ar["throughput"]["unit"] == "GB/s" and ar["outputs"]["sum_check"] == "ok"
    assert ar["outputs"]["bus_factor"] == 1.0  # 2(n-1)/n at n = 2
    assert ar["outputs"]["busbw_gbps"] == pytest.approx(ar["outputs"]["algbw_gbps"])
    assert ar["outputs"]["busbw_gbps"] == pytest.approx(ar["throughput"]["median"])
    assert ar["outputs"]["algbw_gbps"] == pytest.approx((1 << 20) / (ar["outputs"]["time_us"] / 1e6) / 1e9)
    assert ar["distributed"]["interconnect"] == "loopback"

    for n in (1, 2):
        r = by[("train-gpt2-ddp", n, None)]
        d = r["distributed"]
        steps, per_rank = r["outputs"]["steps"], 4 * 64  # quick suite: gpt2-tiny, batch 4 x 64 tokens per rank
        assert r["outputs"]["tokens_per_step_per_rank"] == per_rank
        assert d["tokens_total"] == steps * n * per_rank  # exact aggregate count
        assert [p["tokens"] for p in d["per_rank"]] == [steps * per_rank] * n
        assert [p["rank"] for p in d["per_rank"]] == list(range(n))
        assert len(r["throughput"]["samples"]) == steps
        assert d["interconnect"] == ("none" if n == 1 else "loopback")
        assert r["outputs"]["replicas_equal"] is True  # each rank trained on its own data, weights stay equal
    rows = scaling.scaling_table(run["results"], "train-gpt2-ddp")
    assert [row["world_size"] for row in rows] == [1, 2] and rows[0]["efficiency"] == 1.0
    assert rows[1]["efficiency"] == pytest.approx(by[("train-gpt2-ddp", 2, None)]["throughput"]["median"]
                                                  / (2 * by[("train-gpt2-ddp", 1, None)]["throughput"]["median"]))


def test_killed_rank_gives_error_result_and_no_corrupt_file(tmp_path: Path) -> None:
    data = _data(tmp_path)
    out = _costperf(["run", "--suite", "quick", "--machine", "test-desktop", "--data", str(data), "--device", "cpu",
                     "--nproc-per-node", "2", "--workload", "train-gpt2-ddp", "--energy", "off"],
                    env={"COSTPERF_FAULT": "kill:1:train-gpt2-ddp:2"})
    assert out.returncode == 1, out.stdout[-3000:] + out.stderr[-3000:]
    assert "rank 1 (local rank 1) killed by SIGKILL" in out.stderr
    files = _run_files(data)
    assert len(files) == 1, files  # the one run file, no temporaries beside it
    assert not list((data / "runs").rglob(f"{store.TMP_PREFIX}*"))
    check = subprocess.run(COSTPERF + ["validate", "--data", str(data)], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    run = json.loads(files[0].read_text())
    ok = [r for r in run["results"] if r["status"] == "ok"]
    failed = [r for r in run["results"] if r["status"] == "error"]
    assert [r["distributed"]["world_size"] for r in ok] == [1]  # the one-rank scale finished before the kill
    assert len(failed) == 1 and failed[0]["distributed"]["world_size"] == 2
    assert failed[0]["throughput"] is None and failed[0]["energy"] is None  # never a partial figure
    assert "peer rank stopped" in failed[0]["message"]
    assert run["environment"]["settings"]["failure"]


@pytest.mark.slow
def test_two_gloo_ranks_fsdp_and_tensor_parallel_decode(tmp_path: Path) -> None:
    data = _data(tmp_path)
    out = _costperf(["run", "--suite", "quick", "--machine", "test-desktop", "--data", str(data), "--device", "cpu",
                     "--nproc-per-node", "2", "--workload", "train-llama-fsdp", "--workload", "decode-tp",
                     "--energy", "off"])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    run = json.loads(_run_files(data)[0].read_text())
    tp = {r["distributed"]["world_size"]: r for r in run["results"] if r["workload"] == "decode-tp"}
    assert set(tp) == {1, 2} and tp[2]["outputs"]["ranks_agree"] is True
    # the sharded model decodes exactly the tokens of the whole one
    assert tp[1]["outputs"]["greedy_tokens_head"] == tp[2]["outputs"]["greedy_tokens_head"]
    assert tp[2]["distributed"]["tokens_total"] == tp[2]["outputs"]["repeats"] * 16
    fsdp = {r["distributed"]["world_size"]: r for r in run["results"] if r["workload"] == "train-llama-fsdp"}
    assert set(fsdp) == {1, 2} and all(r["status"] == "ok" for r in fsdp.values())
    assert fsdp[2]["distributed"]["tokens_total"] == fsdp[2]["outputs"]["steps"] * 2 * 2 * 64


@pytest.mark.slow
def test_rank_raising_reports_its_message(tmp_path: Path) -> None:
    data = _data(tmp_path)
    out = _costperf(["run", "--suite", "quick", "--machine", "test-desktop", "--data", str(data), "--device", "cpu",
                     "--nproc-per-node", "2", "--workload", "allreduce", "--energy", "off"],
                    env={"COSTPERF_FAULT": "raise:1:allreduce:1"})
    assert out.returncode == 1
    run = json.loads(_run_files(data)[0].read_text())
    assert run["status"] == "interrupted"  # the second all-reduce size never ran
    (failed,) = run["results"]
    assert failed["status"] == "error" and "rank 1: RuntimeError: injected fault" in failed["message"]
    assert failed["distributed"]["per_rank"][1]["message"].startswith("RuntimeError: injected fault")


@pytest.mark.slow
def test_two_nodes_through_c10d_rendezvous(tmp_path: Path) -> None:
    """Two torchrun agents on this host as two 'nodes' (--nnodes 2 --rdzv-endpoint): one run file,
    written by whichever node holds global rank 0, saying nodes = 2."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folders = [fd.write_folder(tmp_path / f"node{i}", runs=[]) for i in range(2)]
    common = ["run", "--suite", "quick", "--machine", "test-desktop", "--device", "cpu", "--nproc-per-node", "1",
              "--nnodes", "2", "--rdzv-endpoint", f"127.0.0.1:{port}", "--workload", "allreduce", "--energy", "off"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("COSTPERF_FAULT", None)
    procs = [subprocess.Popen(COSTPERF + common + ["--data", str(f)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for f in folders]
    outs = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-2000:] for o in outs)
    files = [f for folder in folders for f in _run_files(folder)]
    assert len(files) == 1
    run = json.loads(files[0].read_text())
    d = run["results"][0]["distributed"]
    assert d["nodes"] == 2 and d["nproc_per_node"] == 1 and d["interconnect"] == "loopback"
    assert sorted(p["node_rank"] for p in d["per_rank"]) == [0, 1]
    assert any("another host" in o for o in outs)


def test_link_for_subgroups_of_gpus_and_hosts() -> None:
    import torch

    from collectors.distributed import runtime
    from collectors.workloads.common import TimingPolicy

    ranks = [runtime.RankInfo(r, r % 4, r // 4, f"h{r // 4}", f"cuda:{r % 4}", r % 4, None, None, None)
             for r in range(8)]
    nodes = {0: runtime.NodeInfo(0, TOPO, interconnect.Link("loopback", "interface lo (one host)")),
             1: runtime.NodeInfo(1, TOPO, interconnect.Link("infiniband", "interface ib0 (IP over InfiniBand)"))}
    dctx = runtime.DistContext(rank=0, local_rank=0, world_size=8, node_rank=0, nnodes=2, nproc_per_node=4,
                               device=torch.device("cuda", 0), backend="nccl", control=None, policy=TimingPolicy(),
                               meter=None, ranks=ranks, nodes=nodes)  # type: ignore[arg-type]
    assert runtime.link_for(dctx, 1).kind == "none"
    assert runtime.link_for(dctx, 2).kind == "nvlink"  # GPU0-GPU1: NV18
    assert runtime.link_for(dctx, 4).kind == "pcie"  # GPU3 hangs off the other socket (SYS)
    assert runtime.link_for(dctx, 8).kind == "infiniband"  # across hosts: the slowest hop


@pytest.mark.slow
def test_mac_data_parallel_path_on_cpu_ranks(tmp_path: Path) -> None:
    """The path Macs take (gradients averaged through CPU copies, no DDP), run on CPU ranks."""
    data = _data(tmp_path)
    out = subprocess.run([sys.executable, "-m", "collectors.distributed", "--nproc-per-node", "2", "--machine",
                          "test-desktop", "--data", str(data), "--device", "cpu", "--workload", "train-gpt2-ddp",
                          "--scales", "2", "--energy", "off", "--stage-through-cpu"],
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    (result,) = json.loads(_run_files(data)[0].read_text())["results"]
    assert result["status"] == "ok" and result["distributed"]["staged_through_cpu"] is True
    assert result["params"]["engine"] == "torch data parallel (CPU-staged)"
    assert result["outputs"]["replicas_equal"] is True


@pytest.mark.slow
def test_rank_zero_failing_itself_names_itself(tmp_path: Path) -> None:
    data = _data(tmp_path)
    out = _costperf(["run", "--suite", "quick", "--machine", "test-desktop", "--data", str(data), "--device", "cpu",
                     "--nproc-per-node", "2", "--workload", "train-gpt2-ddp", "--energy", "off"],
                    env={"COSTPERF_FAULT": "raise:0:train-gpt2-ddp:1"})
    assert out.returncode == 1
    failed = [r for r in json.loads(_run_files(data)[0].read_text())["results"] if r["status"] == "error"]
    assert len(failed) == 1 and failed[0]["distributed"]["world_size"] == 1
    assert failed[0]["message"].endswith("rank 0: RuntimeError: injected fault (COSTPERF_FAULT=raise:0:train-gpt2-ddp:1)")


@pytest.mark.slow
def test_a_distributed_run_the_folder_cannot_take_is_kept_without_a_traceback(tmp_path: Path) -> None:
    data = _data(tmp_path)
    (data / "runs").mkdir(exist_ok=True)
    (data / "runs" / "test-desktop").write_text("a file where the machine's runs folder should be")
    recovery = tmp_path / "recovered"
    out = _costperf(["run", "--suite", "quick", "--machine", "test-desktop", "--data", str(data), "--device", "cpu",
                     "--nproc-per-node", "1", "--workload", "allreduce", "--energy", "off"],
                    env={"COSTPERF_RECOVERY_DIR": str(recovery)})
    assert out.returncode == 1, out.stdout[-2000:] + out.stderr[-2000:]
    assert "Traceback" not in out.stdout + out.stderr
    (kept,) = sorted(recovery.rglob("*.json"))
    assert str(kept) in out.stderr
    run = json.loads(kept.read_text())
    assert run["machine"] == "test-desktop" and run["results"]
