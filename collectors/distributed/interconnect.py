"""What links the ranks: NVLink or PCIe between GPUs of a host (`nvidia-smi topo -m`), and the
network interface between hosts (InfiniBand, Ethernet, Thunderbolt), as far as can be read
without privileges. Pure parsers plus thin readers; no torch import.

The answer is the slowest link among the participating ranks, because a collective runs at the
pace of its slowest hop. It is what the system offers, not proof of the path NCCL picked
(NCCL_DEBUG=INFO prints that).
"""

from __future__ import annotations

import ipaddress
import platform
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Slowest first; a set of links is as fast as its slowest member.
ORDER = ["unknown", "ethernet", "thunderbolt", "infiniband", "loopback", "pcie", "nvlink", "none"]

PCIE_ENTRIES = {
    "SYS": "PCIe plus the inter-socket link (SYS)",
    "NODE": "PCIe plus host bridges within a NUMA node (NODE)",
    "PHB": "PCIe through a host bridge (PHB)",
    "PXB": "PCIe through several PCIe bridges (PXB)",
    "PIX": "PCIe through at most one PCIe bridge (PIX)",
}


@dataclass(frozen=True)
class Link:
    kind: str  # one of records.Interconnect
    detail: str


def slowest(links: list[Link]) -> Link:
    if not links:
        return Link("unknown", "no link information")
    return min(links, key=lambda link: ORDER.index(link.kind))


def parse_topo_matrix(text: str) -> dict[tuple[int, int], str]:
    """GPU-to-GPU entries of `nvidia-smi topo -m`: {(i, j): 'NV18' | 'PIX' | ...}, nvidia-smi indices."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in text.splitlines()]
    # the header row is indented; data rows start with their own name
    header = next((line for line in lines if line[:1].isspace() and re.search(r"\bGPU0\b", line)), None)
    if header is None:
        return {}
    columns = header.split()
    gpu_cols = [c for c in columns if re.fullmatch(r"GPU\d+", c)]
    out: dict[tuple[int, int], str] = {}
    for line in lines:
        cells = line.split()
        if not cells or not re.fullmatch(r"GPU\d+", cells[0]):
            continue
        i = int(cells[0][3:])
        for col, entry in zip(gpu_cols, cells[1:1 + len(gpu_cols)]):
            out[(i, int(col[3:]))] = entry
    return out


def classify_gpu_pair(entry: str) -> Link:
    if re.fullmatch(r"NV\d+", entry):
        return Link("nvlink", f"{entry}: a bonded set of {entry[2:]} NVLinks")
    if entry in PCIE_ENTRIES:
        return Link("pcie", PCIE_ENTRIES[entry])
    return Link("unknown", f"nvidia-smi topo entry {entry!r}")


def gpu_link(matrix: dict[tuple[int, int], str], gpus: list[int]) -> Link:
    """Slowest link among the given nvidia-smi GPU indices of one host."""
    pairs = [(a, b) for a in gpus for b in gpus if a < b]
    if not pairs:
        return Link("nvlink", "one GPU: no link crossed") if gpus else Link("unknown", "no GPUs")
    found: list[tuple[int, int, str, Link]] = []
    for a, b in pairs:
        entry = matrix.get((a, b))
        if entry is None:
            return Link("unknown", f"nvidia-smi topo -m has no entry for GPU{a}-GPU{b}")
        found.append((a, b, entry, classify_gpu_pair(entry)))
    a, b, entry, worst = min(found, key=lambda f: ORDER.index(f[3].kind))
    if len({f[2] for f in found}) == 1:
        return Link(worst.kind, f"nvidia-smi topo -m: {worst.detail}, between every pair of {len(gpus)} GPUs")
    return Link(worst.kind, f"nvidia-smi topo -m: slowest pair GPU{a}-GPU{b}: {worst.detail}")


def parse_macos_ports(text: str) -> dict[str, str]:
    """`networksetup -listallhardwareports` -> {device: hardware port name}."""
    out: dict[str, str] = {}
    port = None
    for line in text.splitlines():
        if line.startswith("Hardware Port:"):
            port = line.split(":", 1)[1].strip()
        elif line.startswith("Device:") and port is not None:
            out[line.split(":", 1)[1].strip()] = port
            port = None
    return out


def classify_interface(name: str, sys_type: str | None = None, driver: str | None = None,
                       macos_port: str | None = None, speed_mbps: int | None = None) -> Link:
    """Kind of a network interface from its name, Linux /sys type (32 = InfiniBand), driver, or the
    macOS hardware port name."""
    speed = f", {speed_mbps / 1000:g} Gb/s" if speed_mbps and speed_mbps > 0 else ""
    if name == "lo" or name.startswith("lo0"):
        return Link("loopback", f"interface {name} (one host)")
    if macos_port and "thunderbolt" in macos_port.lower():
        return Link("thunderbolt", f"interface {name} ({macos_port}){speed}")
    if driver and "thunderbolt" in driver:
        return Link("thunderbolt", f"interface {name} (driver {driver}){speed}")
    if name.startswith("thunderbolt"):
        return Link("thunderbolt", f"interface {name}{speed}")
    if sys_type == "32" or name.startswith("ib"):
        return Link("infiniband", f"interface {name} (IP over InfiniBand){speed}")
    if macos_port:
        return Link("ethernet", f"interface {name} ({macos_port}){speed}")
    return Link("ethernet", f"interface {name}{speed}")


def _run(cmd: list[str]) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def resolve(address: str) -> str | None:
    """An IP address for a host name (torchrun's MASTER_ADDR may be a name, `ip route` wants a number)."""
    try:
        infos = socket.getaddrinfo(address, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return None
    ipv4 = [i[4][0] for i in infos if i[0] == socket.AF_INET]
    return (ipv4 or [str(i[4][0]) for i in infos] or [None])[0]


def route_interface(address: str) -> str | None:
    """The interface this host uses to reach `address` (Linux `ip route get`, macOS `route get`)."""
    address = resolve(address) or address
    try:
        if ipaddress.ip_address(address).is_loopback:  # this host: no routing tool needed
            return "lo0" if platform.system() == "Darwin" else "lo"
    except ValueError:
        pass
    if platform.system() == "Darwin":
        out = _run(["route", "-n", "get", address]) or ""
        m = re.search(r"interface:\s*(\S+)", out)
    else:
        out = _run(["ip", "route", "get", address]) or ""
        m = re.search(r"\bdev\s+(\S+)", out)
    return m.group(1) if m else None


def network_link(address: str, interface: str | None = None) -> Link:
    """The link from this host towards `address` (the rendezvous host), or through `interface` when
    the backend was told which one to use (GLOO_SOCKET_IFNAME, NCCL_SOCKET_IFNAME)."""
    name = interface.split(",")[0].lstrip("=^") if interface else route_interface(address)
    if name is None:
        return Link("unknown", f"no route to {address} could be read")
    if platform.system() == "Darwin":
        ports = parse_macos_ports(_run(["networksetup", "-listallhardwareports"]) or "")
        return classify_interface(name, macos_port=ports.get(name))
    base = Path("/sys/class/net") / name

    def read(rel: str) -> str | None:
        try:
            return (base / rel).read_text().strip()
        except OSError:
            return None

    driver_path = base / "device" / "driver"
    driver = driver_path.resolve().name if driver_path.exists() else None
    speed = read("speed")
    return classify_interface(name, read("type"), driver, None,
                              int(speed) if speed and speed.lstrip("-").isdigit() else None)


def rdma_link(root: Path = Path("/sys/class/infiniband")) -> Link | None:
    """NCCL's link between hosts when RDMA adapters are present: it prefers them to sockets unless
    NCCL_IB_DISABLE=1. RoCE adapters show up here too, so the detail says so."""
    try:
        hcas = sorted(p.name for p in root.iterdir())
    except OSError:
        return None
    if not hcas:
        return None
    return Link("infiniband", f"RDMA adapters {', '.join(hcas[:8])} (InfiniBand, or RoCE over Ethernet; "
                              "NCCL_DEBUG=INFO names the transport NCCL chose)")


def nvidia_smi_topo() -> str | None:
    return _run(["nvidia-smi", "topo", "-m"])


def nvidia_smi_index_by_bus() -> dict[str, int]:
    """PCI bus id (lower case, domain 0000 or 00000000 normalised to 8 digits) -> nvidia-smi index."""
    out = _run(["nvidia-smi", "--query-gpu=index,pci.bus_id", "--format=csv,noheader"]) or ""
    found = {}
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0].isdigit():
            found[normalise_bus_id(parts[1])] = int(parts[0])
    return found


def normalise_bus_id(bus: str) -> str:
    bus = bus.strip().lower()
    domain, _, rest = bus.partition(":")
    return f"{int(domain, 16):08x}:{rest}" if rest else bus
