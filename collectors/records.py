"""The one schema of costperf's data files, shared by collectors, importers and the report.

Five kinds of file live under `data/`:

- `machines/<id>.yaml`   -> `Machine`: specs, usable-memory rule, power and prices, each with sources;
- `runs/<machine>/<stamp>.json` -> `RunRecord`: one `costperf run` session, measured;
- `published/<id>.yaml`  -> `PublishedSet`: figures from a publication, each with its citation;
- `hosts/<id>.yaml`      -> `Host`: a reference PC that discrete cards are priced and powered in;
- `hardware-names.yaml`  -> `HardwareNames`: which machine each published hardware name is.

Conventions: units are in field names (`_gb`, `_gbps`, `_w`, `_tflops`, `_s`, `_j`); `None` means
"not measured / not published" and is never replaced by 0; every model rejects unknown fields and
never coerces a string into a number.
"""

from __future__ import annotations

import math
import re
import statistics
import datetime as dt
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

SCHEMA_VERSION = 1

# ---------------------------------------------------------------------------------------------
# Field types


SLUG_MAX = 64
"""Longest id: ids are file and folder names, which file systems cap (255 bytes) and people read."""


def _slug(value: str) -> str:
    if len(value) > SLUG_MAX:
        raise ValueError(f"an id of {len(value)} characters: at most {SLUG_MAX}")
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", value):
        raise ValueError("expected a slug: lower-case letters, digits and single hyphens, e.g. 'mac-studio-m2-ultra'")
    return value


URL_MAX = 2048
"""Longest URL: the length browsers, servers and proxies commonly accept (RFC 9110 asks only for 8,000
octets); anything longer is a pasted blob, not an address a reader can follow."""


def _url(value: str) -> str:
    # Length first: a pasted blob gets one line giving its size, never a quote of it.
    if len(value) > URL_MAX:
        raise ValueError(f"a URL of {len(value):,} characters: at most {URL_MAX:,}")
    if not re.match(r"https?://[^\s/]+", value):
        raise ValueError("expected an http:// or https:// URL")
    return value


def _not_todo(value: str) -> str:
    if value.strip().upper().startswith("TODO"):
        raise ValueError(f"still a TODO placeholder ({value!r}): fill it in or remove the field")
    return value


def _iso_currency(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ValueError("expected an ISO 4217 currency code such as 'USD'")
    return value


Slug = Annotated[str, AfterValidator(_slug)]
# maxLength in the JSON Schema lets editors flag it; the validator gives the message.
Url = Annotated[str, AfterValidator(_url), Field(json_schema_extra={"maxLength": URL_MAX})]
Text = Annotated[str, Field(min_length=1), AfterValidator(_not_todo)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
PositiveInt = Annotated[int, Field(gt=0)]
Currency = Annotated[str, AfterValidator(_iso_currency)]

PriceCovers = Literal["system", "card"]
"""What a price buys: the whole machine, or the accelerator card(s) alone (DESIGN.md: boundary)."""

Provenance = Literal["measured", "published", "estimated"]
"""Where a figure comes from: measured by costperf (or a tool it ran), published (cited), or
estimated from specs (the formula is stated next to it)."""


class Record(BaseModel):
    """Base of every data-file model: unknown fields are errors, numbers are never parsed from text."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=False)

    @field_validator("schema_version", mode="before", check_fields=False)
    @classmethod
    def _version_is_a_number(cls, value: Any) -> Any:
        # Literal[1] takes true as 1 (True == 1): a file saying `schema_version: true` is not version 1.
        if isinstance(value, bool):
            raise ValueError(f"schema_version is the number {SCHEMA_VERSION}, not {str(value).lower()}")
        return value


# ---------------------------------------------------------------------------------------------
# Sources and citations


class Source(Record):
    """A document a figure was taken from."""

    id: Slug = Field(description="Short key that sections of the same file use to cite this source.")
    url: Url = Field(description="Where the document can be read (http or https).")
    title: Text = Field(description="Title of the page or document.")
    published: dt.date | None = Field(None, description="Date the document was published or last updated.")
    accessed: dt.date | None = Field(None, description="Date a costperf contributor read it.")
    note: str | None = Field(None, description="What was taken from it, caveats (secondary copy, rounding...).")


class Sourced(Record):
    """Mixin for a block of figures that must say where they come from."""

    provenance: Provenance = Field(
        "published", description="published: from the cited sources; estimated: derived (give the formula)."
    )
    sources: list[Slug] = Field(
        default_factory=list, description="Ids of entries in the file's `sources` list backing these figures."
    )
    formula: str | None = Field(None, description="For estimated figures: how they were derived.")

    @model_validator(mode="after")
    def _cited(self) -> Self:
        if self.provenance == "published" and not self.sources:
            raise ValueError("published figures need at least one entry in `sources`")
        if self.provenance == "estimated" and not self.formula:
            raise ValueError("estimated figures need a `formula` saying how they were derived")
        if self.provenance == "measured":
            raise ValueError("machine specs are published or estimated; measured figures live in run files")
        return self


# ---------------------------------------------------------------------------------------------
# Machine


class PcieLink(Record):
    """The link between host memory and a dedicated accelerator's memory."""

    kind: Literal["pcie"] = "pcie"
    generation: Annotated[int, Field(ge=1, le=7)] = Field(description="PCIe generation (1-7).")
    lanes: Annotated[int, Field(ge=1, le=32)] = Field(description="Electrical lanes, e.g. 16.")


class Accelerator(Sourced):
    """One kind of accelerator in the machine (several identical ones are `count` > 1)."""

    name: Text = Field(description="Marketing name, e.g. 'NVIDIA GeForce RTX 4090' or 'Apple M2 Ultra (76-core GPU)'.")
    count: PositiveInt = Field(1, description="How many of them the machine has.")
    memory_gb: PositiveFloat = Field(description="Memory per accelerator in GB (for unified memory: the system RAM).")
    memory_kind: Literal["dedicated", "unified"] = Field(
        description="dedicated: VRAM behind a host link; unified: shared with the CPU (Apple, GB10)."
    )
    memory_type: str | None = Field(None, description="e.g. GDDR6X, HBM3, LPDDR5X.")
    memory_bandwidth_gbps: PositiveFloat | None = Field(None, description="Peak memory bandwidth in GB/s, as published.")
    peak_bf16_tflops: PositiveFloat | None = Field(None, description="Peak dense (no sparsity) BF16 tensor TFLOP/s.")
    peak_fp16_tflops: PositiveFloat | None = Field(None, description="Peak dense FP16 tensor TFLOP/s.")
    peak_fp32_tflops: PositiveFloat | None = Field(None, description="Peak FP32 (non-tensor) TFLOP/s.")
    host_link: PcieLink | None = Field(
        None, description="Host link of dedicated memory; None for unified memory or when unpublished."
    )

    @model_validator(mode="after")
    def _unified_has_no_link(self) -> Self:
        if self.memory_kind == "unified" and self.host_link is not None:
            raise ValueError("unified memory has no host link: remove `host_link`")
        return self


class UsableMemory(Sourced):
    """How much of the memory a model may occupy.

    rule = macos_default: `fraction` x RAM (Metal's recommendedMaxWorkingSetSize);
    rule = macos_raised:  `limit_gb` set with `sysctl iogpu.wired_limit_mb`;
    rule = vram_less_reserve: total VRAM less `reserve_gb` (driver, CUDA context, fragmentation);
    rule = ram_less_reserve: CPU-only machines, RAM less `reserve_gb` for the OS.
    """

    rule: Literal["macos_default", "macos_raised", "vram_less_reserve", "ram_less_reserve"]
    fraction: Fraction | None = Field(None, description="For macos_default: share of RAM the GPU may wire.")
    limit_gb: PositiveFloat | None = Field(None, description="For macos_raised: the raised limit in GB.")
    reserve_gb: NonNegativeFloat | None = Field(None, description="For *_less_reserve: GB kept back.")

    @model_validator(mode="after")
    def _parameters_match_rule(self) -> Self:
        needed = {
            "macos_default": "fraction",
            "macos_raised": "limit_gb",
            "vram_less_reserve": "reserve_gb",
            "ram_less_reserve": "reserve_gb",
        }[self.rule]
        for name in ("fraction", "limit_gb", "reserve_gb"):
            value = getattr(self, name)
            if name == needed and value is None:
                raise ValueError(f"rule {self.rule!r} needs `{name}`")
            if name != needed and value is not None:
                raise ValueError(f"rule {self.rule!r} does not use `{name}`")
        return self


class Power(Sourced):
    """Power figures as published (or estimated from parts).

    For a discrete card that goes into a host (a machine with `host`), `idle_w` and `system_max_w`
    are left out: the whole system's wall power is the host's plus the card's, and the report
    computes it from both files (`Host.power`)."""

    accelerator_tdp_w: PositiveFloat | None = Field(None, description="Accelerator TDP/TGP per accelerator, W.")
    accelerator_idle_w: PositiveFloat | None = Field(
        None, description="Accelerator draw at idle per accelerator, W (a discrete card's board power at rest).")
    system_max_w: PositiveFloat | None = Field(None, description="Whole-system maximum draw at the wall, W.")
    idle_w: PositiveFloat | None = Field(None, description="Whole-system idle draw at the wall, W.")


class Price(Record):
    """One price observation. Prices are never edited: a newer price is appended."""

    amount: PositiveFloat = Field(description="The price in `currency` (per hour for cloud_hourly).")
    currency: Currency = Field("USD", description="ISO 4217 code.")
    kind: Literal["purchase", "used", "cloud_hourly"] = Field(
        description="purchase: new; used: second-hand; cloud_hourly: per machine-hour."
    )
    covers: PriceCovers = Field(
        "system", description="system: the whole machine as sold (a Mac, a laptop, a prebuilt PC, a cloud "
        "instance); card: the accelerator(s) alone, for a PC the buyer has or the machine's `host`.")
    date: dt.date = Field(description="Date the price applied: a launch price carries its launch or announcement "
                          "date, a street or used price the day it was read; never the day it was copied.")
    source_url: Url = Field(description="Where the price was read.")
    provider: str | None = Field(None, description="Seller or cloud provider and tier, e.g. 'RunPod Secure Cloud'.")
    provenance: Literal["published", "estimated"] = Field(
        "published", description="published: a list or offer price read at source_url; estimated: derived."
    )
    note: str | None = Field(None, description="What the price covers (configuration, region, caveats).")
    source: Slug | None = Field(
        None, description="Id of the `price_sources` entry that `costperf prices refresh` read it from; "
        "None for a price entered by hand."
    )
    fetched_at: AwareDatetime | None = Field(None, description="UTC time the source was read, for fetched prices.")


class PriceSource(Record):
    """Where `costperf prices refresh` reads a current price for this machine.

    kind = json_url: GET `url` (https), take the number at `path` (dot-separated keys and list
    indices, e.g. 'data.offers.0.price');
    kind = vastai: the public vast.ai offer search (no key) for `gpu_name` x `num_gpus`, on-demand,
    verified, rentable; the price is the `statistic` of the offers' total dollars per hour.
    """

    id: Slug = Field(description="Key that fetched prices name in their `source` field.")
    kind: Literal["json_url", "vastai"]
    url: Url | None = Field(None, description="json_url: the JSON address; vastai: the API base (default public).")
    path: str | None = Field(None, description="json_url: path of the price field, e.g. 'data.0.price_usd'.")
    gpu_name: str | None = Field(None, description="vastai: GPU model as vast.ai names it, e.g. 'RTX 4090'.")
    num_gpus: PositiveInt | None = Field(None, description="vastai: GPUs per offer (default: the machine's count).")
    statistic: Literal["min", "median"] = Field("median", description="vastai: which offer price to record.")
    price_kind: Literal["purchase", "used", "cloud_hourly"] = Field(description="`kind` of the prices it yields.")
    covers: PriceCovers = Field("system", description="`covers` of the prices it yields.")
    currency: Currency = Field("USD", description="ISO 4217 code of the amounts it yields.")
    provider: str | None = Field(None, description="Seller or cloud provider recorded with each price.")
    note: str | None = Field(None, description="What the price covers, copied into each price.")

    @model_validator(mode="after")
    def _kind_fields(self) -> Self:
        if self.kind == "json_url" and (self.url is None or not self.path):
            raise ValueError("kind 'json_url' needs `url` and `path`")
        if self.kind == "vastai":
            if not self.gpu_name:
                raise ValueError("kind 'vastai' needs `gpu_name`, e.g. 'RTX 4090'")
            if self.price_kind != "cloud_hourly":
                raise ValueError("kind 'vastai' yields hourly prices: set `price_kind: cloud_hourly`")
        return self


class Machine(Record):
    """A machine configuration whose cost-performance costperf reports."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: Slug = Field(description="Slug, equal to the file name without .yaml.")
    name: Text = Field(description="Display name, e.g. 'Mac Studio (M2 Ultra, 192 GB)'.")
    vendor: Literal["apple", "nvidia", "amd", "other"] = Field(description="Vendor of the accelerator.")
    form: Literal["laptop", "desktop", "mini", "workstation", "server", "cloud"]
    accelerators: list[Accelerator] = Field(min_length=1)
    system_ram_gb: PositiveFloat | None = Field(None, description="Host RAM in GB (for unified memory: the same pool).")
    usable_memory: UsableMemory
    power: Power | None = None
    prices: list[Price] = Field(default_factory=list, description="Price history, oldest first.")
    price_sources: list[PriceSource] = Field(
        default_factory=list, description="Where `costperf prices refresh` reads current prices."
    )
    sources: list[Source] = Field(default_factory=list)
    host: Slug | None = Field(
        None, description="Id of the reference host PC in data/hosts/ that this discrete card goes into: the "
        "`system` scenario prices and powers the card plus that host. Needed when a price covers the card alone.")
    cpu: str | None = Field(None, description="Host CPU model, when part of the configuration.")
    runner_label: str | None = Field(None, description="Self-hosted CI runner label that re-benchmarks it.")
    notes: str | None = None

    @model_validator(mode="after")
    def _sources_resolve(self) -> Self:
        ids = [s.id for s in self.sources]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate source id(s) in `sources`: {', '.join(dupes)}")
        known = set(ids)
        blocks: list[tuple[str, Sourced | None]] = [("usable_memory", self.usable_memory), ("power", self.power)]
        blocks += [(f"accelerators.{i}", a) for i, a in enumerate(self.accelerators)]
        for where, block in blocks:
            if block is None:
                continue
            missing = [s for s in block.sources if s not in known]
            if missing:
                raise ValueError(f"{where}.sources names unknown source(s) {missing}; known: {sorted(known)}")
        return self

    @model_validator(mode="after")
    def _card_prices_have_a_host(self) -> Self:
        card = [i for i, p in enumerate(self.prices) if p.covers == "card"]
        if card and self.host is None and self.form not in ("cloud",):
            raise ValueError(f"prices {card} cover the card alone: name the reference host it goes into "
                             "(`host: <id of a file in data/hosts/>`), or mark the price `covers: system`")
        if self.host is not None:
            if any(a.memory_kind != "dedicated" for a in self.accelerators):
                raise ValueError("`host` is for discrete cards with dedicated memory; unified-memory machines "
                                 "are priced and powered whole")
            if self.form in ("laptop", "cloud", "mini"):
                raise ValueError(f"a {self.form} machine is priced whole: remove `host`")
        return self

    @model_validator(mode="after")
    def _price_source_ids_unique(self) -> Self:
        ids = [s.id for s in self.price_sources]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate id(s) in `price_sources`: {', '.join(dupes)}")
        return self

    @property
    def total_accelerator_memory_gb(self) -> float:
        return sum(a.memory_gb * a.count for a in self.accelerators)

    @property
    def usable_memory_gb(self) -> float:
        """Memory a model may occupy, by the machine's rule (DESIGN.md: usable memory)."""
        rule = self.usable_memory
        total = self.total_accelerator_memory_gb
        if rule.rule == "macos_default":
            assert rule.fraction is not None
            return total * rule.fraction
        if rule.rule == "macos_raised":
            assert rule.limit_gb is not None
            return rule.limit_gb
        assert rule.reserve_gb is not None
        return max(total - rule.reserve_gb * (sum(a.count for a in self.accelerators)
                                             if rule.rule == "vram_less_reserve" else 1), 0.0)


# ---------------------------------------------------------------------------------------------
# Reference hosts (the PC a discrete card goes into)


class HostPart(Record):
    """One part of a reference host, with the price that applied on `date` and where it was read."""

    part: Literal["prebuilt", "cpu", "motherboard", "memory", "storage", "power_supply", "case", "cpu_cooler",
                  "other"] = Field(description="What the part is; `prebuilt` for a whole PC sold without the card.")
    name: Text = Field(description="Model, e.g. 'AMD Ryzen 7 9700X' or '32 GB (2x16) DDR5-6000'.")
    quantity: PositiveInt = 1
    price_usd: PositiveFloat = Field(description="Price of one, USD.")
    date: dt.date = Field(description="Date the price applied (launch date for a launch price).")
    source_url: Url = Field(description="Where the price was read.")
    provenance: Literal["published", "estimated"] = "published"
    note: str | None = None


class HostPower(Sourced):
    """Wall power of the host without the card: what the `system` scenario adds to the card's board power.

    Under load the system draws (card board power + `load_w`) / `psu_efficiency` at the wall; at idle
    `idle_w` + the card's idle board power / `psu_efficiency`."""

    load_w: PositiveFloat = Field(description="DC draw of everything but the card while the card works "
                                  "(CPU feeding one GPU, board, memory, storage, fans), W.")
    idle_w: PositiveFloat = Field(description="Wall draw of the host at idle, card excluded, W.")
    psu_efficiency: Fraction = Field(description="Power supply efficiency at that load (e.g. 0.90 for 80 Plus Gold "
                                     "at half load).")


class Host(Record):
    """A documented reference PC that discrete cards are priced and powered in (the `system` scenario)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: Slug = Field(description="Equal to the file name without .yaml.")
    name: Text = Field(description="Display name, e.g. 'Reference desktop (Ryzen 7 9700X, 64 GB DDR5)'.")
    form: Literal["desktop", "workstation", "server"]
    max_cards: PositiveInt = Field(1, description="Cards of up to the stated power the host takes.")
    max_card_w: PositiveFloat | None = Field(None, description="Largest card board power the PSU is sized for, W.")
    parts: list[HostPart] = Field(min_length=1, description="Itemised parts (or one `prebuilt`), each priced.")
    power: HostPower
    sources: list[Source] = Field(default_factory=list)
    notes: str | None = None

    @model_validator(mode="after")
    def _sources_resolve(self) -> Self:
        known = {s.id for s in self.sources}
        missing = [s for s in self.power.sources if s not in known]
        if missing:
            raise ValueError(f"power.sources names unknown source(s) {missing}; known: {sorted(known)}")
        if any(p.part == "prebuilt" for p in self.parts) and len(self.parts) > 1:
            raise ValueError("a `prebuilt` part is the whole host: list it alone")
        return self

    @property
    def price_usd(self) -> float:
        return sum(p.price_usd * p.quantity for p in self.parts)

    @property
    def price_date(self) -> dt.date:
        """The newest date among the parts' prices: the host's price is as of then."""
        return max(p.date for p in self.parts)


# ---------------------------------------------------------------------------------------------
# Runs


class Environment(Record):
    """What the run ran on, as probed at run time."""

    os: Text = Field(description="Operating system family: Linux, Darwin, Windows.")
    os_version: str = Field(description="Kernel or OS release.")
    macos_version: str | None = Field(None, description="macOS product version on Apple machines.")
    gpu_working_set_gb: PositiveFloat | None = Field(
        None, description="What macOS lets the GPU use, GB: Metal's recommendedMaxWorkingSetSize as read during "
        "the run (Apple machines; None elsewhere). The report prefers it to the machine file's rule.")
    gpu_working_set_source: str | None = Field(
        None, description="Which API read gpu_working_set_gb, e.g. 'torch.mps.recommended_max_memory()'.")
    gpu_wired_limit_mb: Annotated[int, Field(ge=0)] | None = Field(
        None, description="sysctl iogpu.wired_limit_mb during the run: 0 is macOS's default GPU limit, more is a "
        "limit the user raised.")
    python: str
    torch: str | None = Field(None, description="torch.__version__, None when torch was not used.")
    backend: Literal["cuda", "mps", "cpu", "none"] = Field(description="torch device type the suite ran on.")
    driver: str | None = Field(None, description="NVIDIA driver version.")
    cuda: str | None = Field(None, description="CUDA runtime torch was built with.")
    devices: list[str] = Field(default_factory=list, description="Accelerator names as the runtime reports them.")
    cpu: str | None = None
    cpu_cores: PositiveInt | None = None
    ram_gb: PositiveFloat | None = None
    hostname_hash: str | None = Field(None, description="Short hash of the host name, to tell hosts apart privately.")
    settings: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, description="Run settings: power mode, AC or battery, env flags, CLI options."
    )


class Stats(Record):
    """Repeats of one measurement. `value` is the median of `samples` (robust to one slow repeat)."""

    unit: Literal["tokens/s", "GB/s", "TFLOP/s", "s", "samples/s"]
    samples: list[PositiveFloat] = Field(min_length=1, description="One figure per timed repeat, warm-ups excluded.")
    median: PositiveFloat
    mean: PositiveFloat
    stdev: NonNegativeFloat = Field(description="Sample standard deviation (n-1); 0 for one sample.")
    mad: NonNegativeFloat = Field(description="Median absolute deviation from the median: the robust spread.")

    @classmethod
    def of(cls, samples: list[float], unit: str) -> Stats:
        return cls(unit=unit, samples=list(samples), **_summary(samples))  # type: ignore[arg-type]

    @property
    def cv(self) -> float:
        """Coefficient of variation, stdev / mean (derived, so not stored)."""
        return self.stdev / self.mean

    @model_validator(mode="after")
    def _summary_matches_samples(self) -> Self:
        expected = _summary(self.samples)
        for name, want in expected.items():
            have = getattr(self, name)
            if not math.isclose(have, want, rel_tol=1e-6, abs_tol=1e-9):
                raise ValueError(f"`{name}` is {have} but the samples give {want}: summaries must match samples")
        return self


def _summary(samples: list[float]) -> dict[str, float]:
    med = statistics.median(samples)
    return {
        "median": med,
        "mean": statistics.fmean(samples),
        "stdev": statistics.stdev(samples) if len(samples) > 1 else 0.0,
        "mad": statistics.median(abs(s - med) for s in samples),
    }


class Clocks(Record):
    """What held an NVIDIA GPU's clock over an energy window: its SM clock, sampled through NVML,
    beside its maximum, and how much of the window the board's power limit (or its temperature)
    held the clock down. A GPU held below the clock its peak FLOP/s figure assumes bounds every
    compute-bound figure of the window."""

    sm_mhz_median: PositiveFloat = Field(description="Median SM clock over the window's samples, MHz.")
    sm_mhz_max: PositiveFloat = Field(description="The GPU's maximum SM clock, MHz.")
    power_limit_w: PositiveFloat | None = Field(None, description="The board's enforced power limit, W.")
    power_limited_share: float = Field(ge=0.0, le=1.0, description=(
        "Share of the window in which the power limit held the clock down (software power cap or hardware "
        "power brake): see shares_from."))
    thermal_limited_share: float = Field(ge=0.0, le=1.0, description=(
        "Share of the window in which temperature held the clock down (software or hardware thermal slowdown; "
        "from samples, also hardware slowdown, which heat or a power brake engage): see shares_from."))
    shares_from: Literal["counters", "samples"] = Field("samples", description=(
        "counters: NVML's violation counters (time below the requested clock, by cause) over the window; "
        "samples: the share of the clock samples in which NVML named that cause."))
    samples: int = Field(ge=1, description="SM clock samples taken over the window.")


class Energy(Record):
    """Energy over the same window that produced the throughput figure."""

    joules: PositiveFloat = Field(description="Energy over the window, J (total, idle included).")
    joules_above_idle: float | None = Field(None, description="joules less idle_w x window_s.")
    avg_w: PositiveFloat = Field(description="joules / window_s.")
    window_s: PositiveFloat = Field(description="Length of the measured window, s.")
    method: Literal["nvml", "apple_ioreport", "rapl", "estimate"]
    covers: Literal["gpu_board", "soc", "cpu_package", "dram", "cpu_package_dram", "wall"] = Field(
        description="What the meter sees: never compare figures that cover different things silently."
    )
    update_period_s: PositiveFloat | None = Field(None, description="The meter's counter update period, s.")
    tokens: PositiveFloat | None = Field(None, description="Tokens processed inside the window.")
    provenance: Literal["measured", "estimated"] = "measured"
    clocks: Clocks | None = Field(None, description="The GPU's clock over the window (NVML meters only).")


class WorkloadParams(Record):
    """What a workload was run with. Fields that do not apply stay None."""

    model: str | None = Field(None, description="Model shape name, e.g. 'llama-3-8b', 'gpt2-124m'.")
    dtype: str | None = Field(None, description="bf16, fp16, fp32, int8-weight-only, q4_0 ...")
    batch: PositiveInt | None = None
    prompt_tokens: Annotated[int, Field(ge=0)] | None = None
    gen_tokens: Annotated[int, Field(ge=0)] | None = None
    seq_len: PositiveInt | None = Field(None, description="Training sequence length.")
    compile_mode: str | None = Field(None, description="eager, or the torch.compile mode used.")
    engine: str | None = Field(None, description="What executed it: torch, llama.cpp ...")
    extra: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


Interconnect = Literal["nvlink", "pcie", "infiniband", "ethernet", "thunderbolt", "loopback", "none", "unknown"]
"""The link between the ranks of a distributed result (the slowest one when they differ):
nvlink / pcie between GPUs of one host (from `nvidia-smi topo -m`), infiniband / ethernet /
thunderbolt between hosts (from the network interface that reaches the rendezvous host), and
loopback for CPU ranks of one host (gloo's TCP transport over the loopback interface); none for a
one-rank result, where nothing crosses a link."""


class RankFigure(Record):
    """One rank's own figures inside a distributed result."""

    rank: Annotated[int, Field(ge=0)] = Field(description="Global rank (0 writes the run file).")
    local_rank: Annotated[int, Field(ge=0)] = Field(description="Rank within its host.")
    node_rank: Annotated[int, Field(ge=0)] = Field(description="Index of its host among the nodes (torchrun GROUP_RANK).")
    host: str | None = Field(None, description="Short hash of its host name.")
    device: str = Field(description="Device it ran on, e.g. 'cuda:3 (NVIDIA H200)' or 'cpu'.")
    value: PositiveFloat | None = Field(
        None, description="Median of its own samples, in the unit of the result's throughput.")
    tokens: Annotated[int, Field(ge=0)] | None = Field(None, description="Tokens it processed in the timed window.")
    window_s: PositiveFloat | None = Field(None, description="Its timed window, s.")
    peak_memory_gb: PositiveFloat | None = Field(None, description="Its peak device memory allocated, GB.")
    energy_j: PositiveFloat | None = Field(
        None, description="Energy its meter read over the window, J; None where not measured or where the meter "
        "covers the whole host and another rank of that host already counted it.")
    message: str | None = Field(None, description="The error this rank raised, if any.")


class Distributed(Record):
    """How a result was spread over ranks: launched by torchrun, measured through torch.distributed."""

    world_size: PositiveInt = Field(description="Ranks that took part in this result.")
    launched_world_size: PositiveInt = Field(
        description="Ranks torchrun launched; larger than world_size when a subgroup measured a smaller scale.")
    nodes: PositiveInt = Field(description="Hosts the participating ranks ran on.")
    nproc_per_node: PositiveInt = Field(description="Ranks launched per host (torchrun --nproc-per-node).")
    backend: Literal["nccl", "gloo"] = Field(description="torch.distributed backend.")
    launcher: Literal["torchrun"] = "torchrun"
    interconnect: Interconnect = Field(description="Link between the participating ranks (the slowest).")
    interconnect_detail: str | None = Field(
        None, description="What the detection saw: the nvidia-smi topo entry, interface name and link speed ...")
    staged_through_cpu: bool = Field(
        False, description="True when device tensors were copied to CPU for the collective (MPS over gloo).")
    tokens_total: Annotated[int, Field(ge=0)] | None = Field(
        None, description="Tokens all ranks processed in the timed window (steps x ranks x batch x sequence).")
    per_rank: list[RankFigure] = Field(min_length=1, description="One entry per participating rank.")

    @model_validator(mode="after")
    def _ranks_consistent(self) -> Self:
        if len(self.per_rank) != self.world_size:
            raise ValueError(f"`per_rank` has {len(self.per_rank)} entries for world_size {self.world_size}")
        ranks = [r.rank for r in self.per_rank]
        if len(set(ranks)) != len(ranks):
            raise ValueError("`per_rank` names a rank twice")
        if self.world_size > self.launched_world_size:
            raise ValueError("`world_size` exceeds `launched_world_size`")
        counted = [r.tokens for r in self.per_rank if r.tokens is not None]
        if self.tokens_total is not None and len(counted) == len(self.per_rank) and sum(counted) != self.tokens_total:
            raise ValueError(f"per-rank tokens add up to {sum(counted)}, not tokens_total {self.tokens_total}")
        return self


ResultStatus = Literal["ok", "oom", "does_not_fit", "unsupported", "error"]

RawValue = str | int | float | bool | None | list[int] | list[float] | list[str]


class Result(Record):
    """One workload at one setting on one machine."""

    workload: Slug = Field(description="Workload id: prefill, decode, train-gpt2, matmul, memcpy ...")
    params: WorkloadParams = Field(default_factory=WorkloadParams)
    status: ResultStatus
    message: str | None = Field(None, description="Why the status is not ok (the error, the missing backend ...).")
    throughput: Stats | None = Field(None, description="tokens/s for LLM workloads; GB/s or TFLOP/s for micro ones.")
    peak_memory_gb: PositiveFloat | None = Field(None, description="Peak device memory allocated, GB.")
    bytes_per_token: PositiveFloat | None = Field(None, description="Bytes read from memory per decoded token.")
    flops_per_token: PositiveFloat | None = Field(None, description="FLOPs per token (training: 6N + attention).")
    energy: Energy | None = Field(None, description="None where not measured (never 0).")
    energy_note: str | None = Field(None, description="Why energy is None, when it is.")
    started_at: AwareDatetime | None = None
    duration_s: PositiveFloat | None = None
    raw: dict[str, RawValue] | None = Field(
        None, description="The source row exactly as an importer read it (e.g. one llama-bench test, unknown "
        "keys included), so nothing a newer tool version adds is lost; None for costperf's own workloads.")
    compile_s: NonNegativeFloat | None = Field(
        None, description="Warm-up before timing (torch.compile, CUDA-graph capture, autotuning), s; never in throughput."
    )
    memory_needed_gb: PositiveFloat | None = Field(
        None, description="Estimated weights + KV cache for the context, GB (the fit check compares it to usable memory)."
    )
    outputs: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, description="Outcomes other than throughput, e.g. the toy check's final loss and prediction."
    )
    distributed: Distributed | None = Field(
        None, description="World size, nodes, backend, interconnect and per-rank figures of a torchrun workload; "
        "None for single-process workloads.")

    @model_validator(mode="after")
    def _status_consistent(self) -> Self:
        if self.status == "ok" and self.throughput is None and self.memory_needed_gb is None:
            raise ValueError("status 'ok' needs `throughput` (or, for a fit check, `memory_needed_gb`)")
        if self.status != "ok":
            if not self.message:
                raise ValueError(f"status {self.status!r} needs a `message` saying why")
            if self.throughput is not None:
                raise ValueError(f"status {self.status!r} must not carry `throughput`")
        return self


class RunRecord(Record):
    """One `costperf run` session on one machine: written once, never edited."""

    schema_version: Literal[1] = SCHEMA_VERSION
    machine: Slug = Field(description="Id of the machine file in data/machines/.")
    started_at: AwareDatetime = Field(description="UTC start; the file name is this stamp.")
    ended_at: AwareDatetime
    tool: Literal["costperf", "llama-bench"] = Field("costperf", description="What produced the figures.")
    costperf_version: str
    git_commit: str | None = Field(None, description="costperf commit that ran, '+dirty' when modified.")
    environment: Environment
    suite: str | None = Field(None, description="Suite name, e.g. 'standard', 'smoke'.")
    weights: Literal["random", "real"] = Field(
        "random", description="Model weights: random (throughput does not depend on values) or real."
    )
    idle_power_w: PositiveFloat | None = Field(None, description="Idle power before the suite, same meter.")
    results: list[Result] = Field(default_factory=list)
    status: Literal["complete", "interrupted"]
    provenance: Literal["measured"] = "measured"
    notes: str | None = None

    @field_validator("started_at", "ended_at")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        if value.utcoffset() != dt.timezone.utc.utcoffset(None):
            raise ValueError("expected a UTC time (ending in Z or +00:00)")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.ended_at < self.started_at:
            raise ValueError("`ended_at` is before `started_at`")
        return self

    @property
    def stamp(self) -> str:
        return run_stamp(self.started_at)


def run_stamp(started_at: dt.datetime) -> str:
    """File-name stamp of a run: UTC, sortable, no colons (Windows-safe)."""
    return started_at.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


# ---------------------------------------------------------------------------------------------
# Published figures


class Citation(Record):
    """Where a set of published figures comes from."""

    url: Url
    title: Text
    date: dt.date | None = Field(None, description="Date of publication (or of the figures, when later).")
    accessed: dt.date | None = None
    author: str | None = None
    note: str | None = Field(None, description="Caveats: secondary copy, rounding, unverified ...")


class PublishedResult(Record):
    """One figure from a publication, with the settings it was measured at."""

    hardware: Text = Field(description="The hardware exactly as the publication names it.")
    machine: Slug | None = Field(None, description="costperf machine id this hardware corresponds to, if any.")
    workload: Literal["prefill", "decode", "train", "other"]
    model: Text = Field(description="Model as published, e.g. 'llama-2-7b'.")
    dtype: Text = Field(description="Precision or quantisation: f16, q8_0, q4_0, q4_k_m, bf16 ...")
    engine: Text = Field(description="Software that produced it: llama.cpp, mlx, vllm ...")
    prompt_tokens: Annotated[int, Field(ge=0)] | None = None
    gen_tokens: Annotated[int, Field(ge=0)] | None = None
    batch: PositiveInt | None = None
    tokens_per_s: PositiveFloat = Field(description="The published throughput.")
    avg_w: PositiveFloat | None = Field(None, description="Published average power, W, if any.")
    settings: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    citation: Citation | None = Field(None, description="Overrides the set's citation for this row.")
    note: str | None = None


class PublishedClaim(Record):
    """A numeric claim of a publication that is not a throughput: a spec, a ratio, a power or memory figure.

    Kept so the report's claims page can check each one against costperf's data; `value` is what the
    publication says, in `unit`, never a corrected figure.
    """

    id: Slug = Field(description="Short key the report uses to refer to the claim.")
    quantity: Literal["memory_bandwidth", "power", "memory", "usable_memory", "relative_speed",
                      "install_size", "link_bandwidth"] = Field(description="What kind of figure it is.")
    value: float = Field(allow_inf_nan=False, description="The figure as published.")
    unit: Literal["GB/s", "W", "GB", "MB", "%"]
    hardware: str | None = Field(None, description="The hardware as the publication names it.")
    machine: Slug | None = Field(None, description="costperf machine id it corresponds to, if any.")
    claim: Text = Field(description="What the publication says, in a sentence.")
    attributed_to: str | None = Field(None, description="The publication's own source for the figure, if any.")
    note: str | None = None


class PublishedSet(Record):
    """A file of published figures sharing one citation (rows may override it)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: Slug = Field(description="Equal to the file name without .yaml.")
    citation: Citation
    role: Literal["benchmark", "seed_article"] = Field(
        "benchmark", description="seed_article: the claims the report checks, not evidence."
    )
    provenance: Literal["published"] = "published"
    results: list[PublishedResult] = Field(min_length=1)
    claims: list[PublishedClaim] = Field(
        default_factory=list, description="Numeric claims that are not throughput figures (seed article).")


# ---------------------------------------------------------------------------------------------
# Published hardware names


HardwareLabel = Annotated[str, Field(min_length=1, max_length=200)]


class HardwareNames(Record):
    """data/hardware-names.yaml: a published hardware name -> the one machine id it is.

    Keys are names exactly as a publication prints them. A name maps to one machine in the section
    of that machine's vendor, or sits in `not_a_machine` with the reason (a multi-GPU rig, a label
    that names no single configuration). SXM and PCIe parts, and memory sizes, are different ids."""

    apple: dict[HardwareLabel, Slug] = Field(default_factory=dict, description="Names of Apple machines.")
    nvidia: dict[HardwareLabel, Slug] = Field(default_factory=dict, description="Names of NVIDIA machines.")
    other: dict[HardwareLabel, Slug] = Field(
        default_factory=dict, description="Names of machines of other vendors (AMD and others).")
    not_a_machine: dict[HardwareLabel, Text] = Field(
        default_factory=dict, description="Names that are no single machine, each with the reason.")

    SECTIONS: ClassVar[tuple[str, ...]] = ("apple", "nvidia", "other")
    VENDORS: ClassVar[dict[str, tuple[str, ...]]] = {"apple": ("apple",), "nvidia": ("nvidia",),
                                                     "other": ("amd", "other")}

    @model_validator(mode="after")
    def _each_name_once(self) -> Self:
        seen: dict[str, str] = {}
        for section in (*self.SECTIONS, "not_a_machine"):
            for name in getattr(self, section):
                if name in seen:
                    raise ValueError(f"{name!r} is listed under both `{seen[name]}` and `{section}`: "
                                     "a name is one machine or none")
                seen[name] = section
        return self

    def machine_for(self, hardware: str) -> str | None:
        """The machine id a published name maps to; None when unlisted or not a machine."""
        for section in self.SECTIONS:
            found = getattr(self, section).get(hardware)
            if found is not None:
                return found
        return None

    def knows(self, hardware: str) -> bool:
        return self.machine_for(hardware) is not None or hardware in self.not_a_machine


KINDS: dict[str, type[Record]] = {"machine": Machine, "run": RunRecord, "published": PublishedSet, "host": Host,
                                  "names": HardwareNames}
"""File kind -> model; also the names of the exported JSON Schemas."""


def describe(model: type[BaseModel]) -> dict[str, Any]:
    """JSON Schema of a model, as written to data/schema/."""
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
