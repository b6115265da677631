"""SIGTERM (what `kill`, service managers, CI runners and container stops send) handled as Ctrl-C is.

Python's default for SIGTERM ends the process on the spot: no message, a `run` without its record
of the tasks that finished, a report's page kernels left running, temporary files left behind.
While a command runs, SIGTERM is handed to whatever handles Ctrl-C at that moment (Python's handler
raises KeyboardInterrupt; asyncio.run's cancels its task first, so that its `finally` blocks run in
the loop), so the `except KeyboardInterrupt` and `finally` blocks that serve Ctrl-C serve SIGTERM
too. A command that does not say more ends with one line and exit status 143 (128 + 15: what a
shell reports for SIGTERM).
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click

EXIT_STATUS = 128 + signal.SIGTERM
CTRL_C_STATUS = 128 + signal.SIGINT
"""What `run` exits with after Ctrl-C (click's own Ctrl-C handling elsewhere exits 1)."""


_received: list[int] = []  # the signals that arrived while this command ran
_active: list[bool] = []  # inside sigterm_as_interrupt: SIGTERM is ours to hand back
_signalled_exit: list[int] = []  # the status a command stopped by a signal leaves with


def _leave_with_signalled_status() -> None:
    """The last exit handler (registered first): a command stopped by a signal ends with the status it
    chose. Where the interruption landed in Python code that a C extension ran while it imported
    (PyRun_String), CPython keeps a mark of an unhandled Ctrl-C and, after its exit handlers, would
    end the process by SIGINT itself whatever the status; everything is done and flushed by now."""
    if _signalled_exit:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # closed, or a pipe whose reader left
                pass
        os._exit(_signalled_exit[0])


atexit.register(_leave_with_signalled_status)


def _as_ctrl_c(signum: int, frame: Any) -> None:
    _received.append(signum)
    ctrl_c = signal.getsignal(signal.SIGINT)
    if callable(ctrl_c):
        ctrl_c(signal.SIGINT, frame)
        return
    # Ctrl-C ignored (a background job's shell does that) or the C default: raise it ourselves.
    raise KeyboardInterrupt


def terminated() -> bool:
    """Whether the interruption the command is handling came from SIGTERM (not Ctrl-C): the first
    signal decides, whatever followed it."""
    return _received[:1] == [signal.SIGTERM]


def signalled() -> bool:
    """Whether SIGTERM, or a Ctrl-C that an event loop's handler took (sigterm_noticing_event_loops), arrived."""
    return bool(_received)


def interrupt_status() -> int:
    """The exit status of an interrupted command: 143 for SIGTERM, 130 for Ctrl-C."""
    return EXIT_STATUS if terminated() else CTRL_C_STATUS


def signal_name(signum: int) -> str:
    """How a message names a signal: Ctrl-C for SIGINT, else its name (SIGTERM)."""
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


def interrupt_name() -> str:
    return signal_name(signal.SIGTERM if terminated() else signal.SIGINT)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM acts as Ctrl-C inside the block; the previous handler is back afterwards (the command
    may run inside another program, such as a test runner)."""
    try:
        previous = signal.signal(signal.SIGTERM, _as_ctrl_c)
    except ValueError:  # not the main thread: signals are not ours to set
        yield
        return
    _received.clear()
    _active.append(True)
    try:
        yield
    finally:
        _active.pop()
        signal.signal(signal.SIGTERM, previous)


class RunSignals:
    """`costperf run`'s signals. The first (SIGTERM or Ctrl-C) interrupts the measuring; from then on,
    and from the moment a finished run starts saving, signals are queued until the record is written,
    so measured results are never lost to a second signal. The third signal of the command forces the
    exit: it raises KeyboardInterrupt where the save is, whose clean-up (atomic_write) still runs, so no
    partial file is left; signals after it are ignored so that nothing cuts that clean-up short."""

    FORCE_AT = 3

    def __init__(self) -> None:
        self.signals: list[int] = []  # every SIGTERM and Ctrl-C this run got, in order
        self.saving = False
        self.forced = False
        self.interrupted_by_signal = False  # the first signal stopped the measuring (not the save)

    def begin_saving(self) -> None:
        """The measuring is over (finished or interrupted): queue signals from now on."""
        self.saving = True

    @property
    def queued(self) -> list[int]:
        """The signals that arrived while saving and waited for it (the interrupting one excluded)."""
        return self.signals[1:] if self.interrupted_by_signal else self.signals

    def status(self) -> int:
        """The exit status of the first signal: 143 for SIGTERM, 130 for Ctrl-C."""
        return 128 + (self.signals[0] if self.signals else signal.SIGINT)

    def _handle(self, signum: int, frame: Any) -> None:
        _received.append(signum)
        self.signals.append(signum)
        if self.forced:
            return
        if not self.saving:
            self.saving = self.interrupted_by_signal = True
            raise KeyboardInterrupt
        if len(self.signals) >= self.FORCE_AT:
            self.forced = True
            raise KeyboardInterrupt
        # os.write, not print: the main thread may be inside a write to the same stream
        os.write(2, f"{signal_name(signum)}: the measured results are being saved first; a third signal stops at once, "
                    "without them.\n".encode())


@contextmanager
def handling(handler: Any) -> Iterator[None]:
    """`handler` takes SIGTERM and Ctrl-C inside the block; the previous handlers are back afterwards.
    A signal ignored where the block starts stays ignored (a background job's shell ignores Ctrl-C),
    and outside the main thread nothing is set (signals are not ours to set there)."""
    previous: dict[int, Any] = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            if signal.getsignal(sig) is not signal.SIG_IGN:
                previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def run_signals() -> Iterator[RunSignals]:
    """SIGTERM and Ctrl-C handled by a RunSignals inside the block (`handling`)."""
    signals = RunSignals()
    with handling(signals._handle):
        yield signals


def _noting(signum: int, callback: Any, *args: Any) -> None:
    _received.append(signum)
    callback(*args)


class _SigtermNoticingLoop(asyncio.SelectorEventLoop):  # type: ignore[misc,valid-type]
    """nbclient (the report's page runner) takes SIGTERM and Ctrl-C over while a page runs: it shuts
    the kernel down, and the page fails as 'Kernel died', which alone says nothing of a signal; when
    done, it leaves SIGTERM at the default, which would end costperf without a word. This loop notes
    the signal before such a handler runs, and gives SIGTERM back to costperf when it is removed."""

    def add_signal_handler(self, sig: int, callback: Any, *args: Any) -> None:
        if sig in (signal.SIGTERM, signal.SIGINT):
            callback = functools.partial(_noting, sig, callback)
        super().add_signal_handler(sig, callback, *args)

    def remove_signal_handler(self, sig: int) -> bool:
        removed = bool(super().remove_signal_handler(sig))
        if sig == signal.SIGTERM and _active:
            signal.signal(signal.SIGTERM, _as_ctrl_c)
        return removed


class _Policy(asyncio.DefaultEventLoopPolicy):  # type: ignore[misc,valid-type]
    _loop_factory = _SigtermNoticingLoop


@contextmanager
def sigterm_noticing_event_loops() -> Iterator[None]:
    """Event loops created inside the block (asyncio.run's) note SIGTERM and Ctrl-C, whoever handles them."""
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(_Policy())
    try:
        yield
    finally:
        asyncio.set_event_loop_policy(previous)


def stop(message: str) -> NoReturn:
    """End the command after SIGTERM with one line on standard error and status 143."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    sys.exit(EXIT_STATUS)


STOPPED = "Stopped by SIGTERM before it finished; no file was left half-written."
"""True of every command: data files are written whole or not at all (collectors/atomic_write.py)."""


class Group(click.Group):
    """The `costperf` group: SIGTERM stops any command as Ctrl-C would, with one line and status 143
    where the command itself does not say more."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            with sigterm_as_interrupt():
                return super().main(*args, **kwargs)
        except SystemExit as exc:
            if signalled():  # whatever status the command chose after the signal is the one it ends with
                _signalled_exit[:] = [0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1]
            raise

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with _sigterm_is_the_stop():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with _sigterm_is_the_stop():
            return super().invoke(ctx)


@contextmanager
def _sigterm_is_the_stop() -> Iterator[None]:
    """After SIGTERM, whatever a library made of the interruption (nbclient reports a cancelled cell as
    a dead kernel) is the stop, not a fault to show as a traceback."""
    try:
        yield
    except (KeyboardInterrupt, Exception):
        if terminated():
            stop(STOPPED)
        raise  # Ctrl-C: click's 'Aborted!'
