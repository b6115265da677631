"""The `costperf` command: one group, its commands in one module per command group.

Each command takes `--data PATH` (default ./data). Problems with data files are printed one per
line, naming file, line, field and what was expected, and exit with status 1; never a traceback.
"""

from __future__ import annotations

import importlib

import click

from collectors.cli.common import console, costperf_version, data_option, err_console, fail  # noqa: F401


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(costperf_version(), "--version", "-V", prog_name="costperf")
def main() -> None:
    """costperf: tokens per dollar, per joule and per usable GB of AI hardware, measured and cited.

    \b
    Examples:
      costperf validate                       check every file under ./data
      costperf machines                       summary table of the machines
      costperf machine new my-desktop-4090    scaffold a data file for this machine
      costperf schema                         write data/schema/*.schema.json for editors
    """


# Each module defines `COMMANDS: list[click.Command]`; its heavy imports (torch, HTTP, pandas) stay
# inside the commands, so that `costperf validate` never pays for them.
COMMAND_MODULES: list[str] = [
    "collectors.cli.data",
    "collectors.cli.review",
    "collectors.cli.prices",
    "collectors.cli.importing",
    "collectors.cli.report",
    "collectors.cli.run",
]

for _module in COMMAND_MODULES:
    for _command in importlib.import_module(_module).COMMANDS:
        main.add_command(_command)
