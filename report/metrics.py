"""From validated records to every table the pages show, built once (`build`, `load` → `Report`).

The formulas live once in `report.formulas`; the tables are built in `report.machines_table`,
`report.results_table`, `report.costs`, `report.headline`, `report.scaling_table`, `report.ceilings`
and `report.winners`. The pages and charts only select and format. The names the pages use are
re-exported here, so `metrics.X` keeps naming them.

Three provenances are kept apart in every table: `measured` (a costperf run file), `published`
(a cited publication in data/published/) and `estimated` (derived from specs; the formula is in
the `basis` column). A derived figure takes the weakest provenance of its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from collectors import store
from collectors.records import PublishedSet
from report import settings as S
from report.assumptions import Assumptions
from report.ceilings import CEILING_COLUMNS, ceilings_table
from report.classify import eight_b_rows, guess_vendor, is_8b_class, precision_class, workload_kind  # noqa: F401
from report.costs import COST_COLUMNS, PRICE_USED_COLUMNS, cost_metrics, group_machine, group_share, priced  # noqa: F401
from report.formulas import (PCIE_X16_GBPS, PROVENANCE_ORDER, effective_bandwidth_gbps, electricity_usd,  # noqa: F401
                             largest_model_b, model_fits, model_flops_utilisation, pareto_front, pcie_gbps,
                             per_usable_gb, roofline_decode_tokens_per_s, roofline_efficiency,
                             tokens_over_period, tokens_per_dollar_cloud, tokens_per_dollar_purchase,
                             tokens_per_joule, weakest, window_tokens_per_joule)
from report.headline import HEADLINE_COLUMNS, headline_table  # noqa: F401
from report.machines_table import (FIT_FORMAT, MACHINE_COLUMNS, MODEL_SIZES_B, PRECISION_BITS,  # noqa: F401
                                   current_price, fit_grid, machines_table, price_history_table, usable_memory_gb)
from report.measured_memory import prefer_measured
from report.physics_flags import physics_flags
from report.results_table import (CROSS_CHECK_COLUMNS, POWER_COVERS_LABEL, RESULT_COLUMNS,  # noqa: F401
                                  cross_check_table, results_table, status_table)
from report.scaling_table import SCALING_COLUMNS, scaling_table
from report.winners import Winner, winners  # noqa: F401  (the cards' logic; re-exported for the pages)

STANDARD_LENGTH = S.STANDARD_LENGTH
setting_label = S.setting_label


@dataclass
class Report:
    """Every table the pages show. Holds counts and problem lines rather than the records
    themselves, so that it pickles small and loads fast in each page's kernel."""

    assumptions: Assumptions
    counts: dict[str, int]
    problems: list[str]
    machines: pd.DataFrame
    results: pd.DataFrame
    headline: pd.DataFrame
    winners: list[Winner]
    fits: pd.DataFrame
    statuses: pd.DataFrame
    seed: list[PublishedSet] = field(default_factory=list)
    prices: pd.DataFrame = field(default_factory=pd.DataFrame)
    cross_checks: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CROSS_CHECK_COLUMNS))
    scaling: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SCALING_COLUMNS))
    setting: S.HeadlineSetting | None = None  # the one setting the overview ranks at
    ceilings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CEILING_COLUMNS))


def build(ds: store.DataSet, a: Assumptions) -> Report:
    flags = physics_flags(ds)
    machines = machines_table(ds.machines, a, flags, ds.hosts)
    machines = prefer_measured(machines, ds.runs, ds.machines, a)  # a Mac's own measured GPU limit
    results = results_table(ds, a, flags)
    hs = S.choose_headline(results, a.headline_precision, precision_class)
    ceilings = ceilings_table(machines, results, hs)
    headline = headline_table(results, machines, a, hs, ceilings)
    counts = {"machines": len(ds.machines), "runs": len(ds.runs), "published": len(ds.published),
              "flags_violation": sum(f.severity == "violation" for fs in flags.values() for f in fs),
              "flags_review": sum(f.severity == "review" for fs in flags.values() for f in fs)}
    return Report(assumptions=a, counts=counts, problems=[p.shown(ds.root.parent) for p in ds.problems], machines=machines, results=results, headline=headline,
                  winners=winners(headline, a.scenario, hs.label if hs else None), fits=fit_grid(machines, a),
                  statuses=status_table(ds), setting=hs, ceilings=ceilings,
                  seed=[p for p in ds.published if p.role == "seed_article"],
                  prices=price_history_table(ds.machines), cross_checks=cross_check_table(ds),
                  scaling=scaling_table(ds, machines, a, flags))


def load(root: Path, a: Assumptions) -> Report:
    """Load and validate the data folder; files with problems are left out (the problems are
    listed on the methodology page), so one bad file never blanks the report."""
    return build(store.load(root / a.data_dir), a)
