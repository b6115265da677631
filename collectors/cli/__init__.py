"""The `costperf` command: one group, its commands in one module per command group.

Each command takes `--data PATH` (default ./data). Problems with data files are printed one per
line, naming file, line, field and what was expected, and exit with status 1; never a traceback.
"""

from __future__ import annotations

import os
import signal
import sys


def _interrupted_while_starting(signum: int, frame: object) -> None:
    # Ctrl-C while the modules load would otherwise print a KeyboardInterrupt traceback, and SIGTERM
    # end the process without a word; nothing has been read or written yet. Once click runs, it turns
    # Ctrl-C into 'Aborted!' (exit 1) itself, and stop_signal.Group handles SIGTERM (exit 143).
    # Raising here would surface wrapped in whatever import it hit (a RuntimeError from a class body),
    # so the process ends at once: there is nothing to clean up.
    if signum == signal.SIGTERM:
        sys.stderr.write("Stopped by SIGTERM while starting: nothing was read or written.\n")
    else:
        sys.stderr.write("Interrupted while starting: nothing was read or written.\n")
    sys.stderr.flush()
    os._exit(128 + signum if signum == signal.SIGTERM else 1)


def _on_signal(signum: int, handler: object) -> object:
    try:
        return signal.signal(signum, handler)  # type: ignore[arg-type]
    except ValueError:  # imported outside the main thread: signals are not ours to set
        return None


_on_signal(signal.SIGINT, _interrupted_while_starting)
_sigterm_before = _on_signal(signal.SIGTERM, _interrupted_while_starting)

import importlib  # noqa: E402 - after the handler, which must cover these imports

import click  # noqa: E402

from collectors.cli.common import console, costperf_version, data_option, err_console, fail  # noqa: F401,E402
from collectors.cli.stop_signal import Group  # noqa: E402


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
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

_on_signal(signal.SIGINT, signal.default_int_handler)  # loaded: Ctrl-C is click's again
if _sigterm_before is not None:  # and SIGTERM the group's, while main() runs (stop_signal.Group)
    _on_signal(signal.SIGTERM, _sigterm_before)
