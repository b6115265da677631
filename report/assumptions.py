"""The report's assumptions: one pydantic model, printed on the methodology page.

Resolution order (later wins): the defaults below, `params:` in `_quarto.yml`, then
`costperf report --set name=value` (passed to the page kernels in the COSTPERF_SET environment
variable as JSON, so `quarto render` and the fallback engine see the same values).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

ENV_VAR = "COSTPERF_SET"
"""Environment variable carrying `--set` overrides as a JSON object."""


class Assumptions(BaseModel):
    """Every assumption behind a derived figure. Units are in the names."""

    # Every value is finite and within a range a reader could mean (an overflow inside a page, or
    # "electricity at inf USD/kWh", is refused here, with the range).
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    amortisation_years: float = Field(3.0, gt=0, le=20, description="Years a purchased machine is written off over.")
    hours_per_day: float = Field(8.0, gt=0, le=24, description="Hours a day the machine is available for work.")
    utilisation: float = Field(
        0.5, gt=0, le=1, description="Share of those hours it spends producing tokens (the rest it is idle)."
    )
    usd_per_kwh: float = Field(0.17, ge=0, le=5, description="Electricity price, USD per kWh.")
    vram_reserve_gb: float | None = Field(
        None, ge=0, le=64,
        description="GB kept back per dedicated GPU (CUDA context, fragmentation); blank: each machine file's reserve.",
    )
    kv_cache_gb: float = Field(
        2.0, ge=0, le=1024,
        description="GB kept free for the KV cache and activations when asking which model fits.",
    )
    headline_precision: Literal["best", "16-bit", "8-bit", "4-bit"] = Field(
        "best",
        description="Precision of the headline setting: 'best' takes the setting the most machines share, "
        "whatever its precision; a precision restricts the choice to settings of that precision.",
    )
    scenario: Literal["system", "upgrade", "cloud"] = Field(
        "system",
        description="What a price and a power figure cover. system: the whole machine (a discrete card plus its "
        "reference host PC), wall power; upgrade: the card alone into a PC the buyer has (GPUs only), board "
        "power; cloud: hourly rental at the same utilisation as a purchase.",
    )
    data_dir: str = Field("data", description="The data folder, relative to the project root.")

    def active_hours(self) -> float:
        """Hours of token production over the amortisation period."""
        return self.amortisation_years * 365.0 * self.hours_per_day * self.utilisation

    def idle_hours(self) -> float:
        """Hours the machine is on but idle over the amortisation period (available, not producing)."""
        return self.amortisation_years * 365.0 * self.hours_per_day * (1.0 - self.utilisation)

    def rows(self) -> list[dict[str, Any]]:
        """(name, value, description) rows for the methodology page."""
        out = []
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if name == "data_dir":
                value = _published_path(value)
            out.append({"name": name, "value": "each machine file's" if value is None else value,
                        "description": field.description or ""})
        return out


def _published_path(value: str) -> str:
    """A folder as a published page may name it: relative to the project, never a local absolute path
    (`costperf report --data` passes one), else its last part."""
    path = Path(value)
    if not path.is_absolute():
        return value
    try:
        return str(path.resolve().relative_to(project_root()))
    except ValueError:
        return path.name


class AssumptionError(ValueError):
    """An override names an unknown assumption or gives a value of the wrong kind."""


def parse_set(pairs: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """`name=value` strings (as typed after --set) to a dict; values parsed as YAML scalars."""
    out: dict[str, Any] = {}
    known = set(Assumptions.model_fields)
    for pair in pairs:
        if "=" not in pair:
            raise AssumptionError(f"--set {pair!r}: expected name=value, e.g. --set usd_per_kwh=0.30")
        name, _, raw = pair.partition("=")
        name = name.strip()
        if name not in known:
            raise AssumptionError(f"--set {pair!r}: unknown assumption {name!r}; known: {', '.join(sorted(known))}")
        out[name] = None if raw.strip() in ("", "null", "none", "None") else _scalar(pair, raw)
    validate(out, where="--set")
    return out


def _scalar(pair: str, raw: str) -> Any:
    """A --set value as a plain YAML scalar: a number, a word, true/false (no tags, lists or anchors)."""
    from collectors.safe_load import UnsafeInput, load_yaml  # noqa: PLC0415

    try:
        value, _ = load_yaml(raw)
    except UnsafeInput as exc:
        raise AssumptionError(f"--set {pair!r}: {exc.message}") from None
    except yaml.YAMLError:
        raise AssumptionError(f"--set {pair!r}: expected a number or a word, e.g. --set usd_per_kwh=0.30") from None
    if isinstance(value, (dict, list)):
        raise AssumptionError(f"--set {pair!r}: expected a single value, not a list or mapping")
    return value


def validate(values: dict[str, Any], where: str) -> Assumptions:
    # No assumption is a yes/no: pydantic would read true as the number 1 (amortisation_years=true: 1 year).
    flags = [name for name, value in values.items() if isinstance(value, bool)]
    if flags:
        raise AssumptionError("\n".join(f"{where}: {name}: expected a number or a word, not "
                                         f"{str(values[name]).lower()}" for name in flags))
    try:
        return Assumptions(**values)
    except ValidationError as exc:
        lines = [f"{where}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise AssumptionError("\n".join(lines)) from None


def project_root(start: Path | None = None) -> Path:
    """The folder holding `_quarto.yml` (pages execute in report/, Quarto or not)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_quarto.yml").is_file():
            return folder
    return here


def quarto_params(root: Path) -> dict[str, Any]:
    path = root / "_quarto.yml"
    if not path.is_file():
        return {}
    from collectors.safe_load import UnsafeInput, load_yaml  # noqa: PLC0415

    try:
        config = load_yaml(path.read_text(encoding="utf-8"))[0] or {}
    except (UnsafeInput, yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        raise AssumptionError(f"{path}: cannot read its params ({exc})") from None
    params = config.get("params") or {} if isinstance(config, dict) else {}
    if not isinstance(params, dict):
        raise AssumptionError(f"{path}: params: expected a mapping of assumption names to values")
    return params


def resolve(root: Path | None = None, overrides: dict[str, Any] | None = None) -> Assumptions:
    """Defaults < _quarto.yml params < COSTPERF_SET environment < explicit overrides."""
    root = root or project_root()
    values: dict[str, Any] = {}
    values.update(quarto_params(root))
    env = os.environ.get(ENV_VAR)
    if env:
        try:
            overrides_env = json.loads(env)
        except json.JSONDecodeError as exc:
            raise AssumptionError(f"{ENV_VAR}: not a JSON object ({exc.msg})") from None
        if not isinstance(overrides_env, dict):
            raise AssumptionError(f"{ENV_VAR}: expected a JSON object of assumption names to values")
        values.update(overrides_env)
    values.update(overrides or {})
    return validate(values, where=f"{root / '_quarto.yml'} params / --set")
