"""Learner feedback: ``lablib.check.<chapter>.<exercise>(answer)``.

A check inspects the learner's real result and prints one line::

    ✅ dedupe: 9,812 orders, no duplicate order_id, no null order_date
    ❌ dedupe: 37 duplicate order_id remain (e.g. O-000123). Hint: keep one row per key.

Writing a check (in ``lablib/check/chNN.py``)::

    from lablib.check import exercise, fail

    @exercise("02", hint="keep one row per key, not per whole row")
    def dedupe(df):
        dupes = df.count() - df.select("order_id").distinct().count()
        if dupes:
            fail(f"{dupes} duplicate order_id remain")
        return f"{df.count():,} orders, no duplicate order_id"

A wrong or missing answer never raises a traceback at the learner: the check
prints ❌ and returns a falsy :class:`Result`. ``result.crashed`` tells the two
kinds of ❌ apart: False when the check rejected the answer for a reason it
names (it called :func:`fail`, or the cell still raises "your turn"), True when
the check itself raised something unexpected (the learner reads "could not
check your answer (…)"). Tests of a check assert the reason, so a crash never
counts as a rejection. After a ❌ in a notebook, the solution's own cells for
that exercise run in the learner's kernel so the lab goes on (lablib/catchup.py).
Every result is recorded in
``$LAB_HOME/progress.json`` (``lab progress`` shows it). When
``LAB_CHECKS_STRICT=1`` (``lab run`` sets it for solution notebooks) a failed
check raises :class:`CheckFailed` after printing, so CI names the cell.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass

from lablib import catchup
from lablib.check import progress
from lablib.config import settings

__all__ = ["exercise", "fail", "not_run", "Result", "CheckFailed", "registry"]

#: chapter -> exercise name -> the check function (filled as chNN modules import)
registry: dict[str, dict[str, object]] = {}


class _Fail(Exception):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class CheckFailed(AssertionError):
    """Raised after a failed check when LAB_CHECKS_STRICT=1 (CI runs of solutions)."""


class _NotRun(Exception):
    pass


def fail(message: str, hint: str | None = None):
    """Stop the check here with ❌ and this message (and an optional sharper hint)."""
    raise _Fail(message, hint)


def not_run(reason: str):
    """Stop the check here with ➖ "not run": a tool the exercise needs is missing on this machine.
    Neither passed nor failed: no progress recorded, no catch-up, no error under LAB_CHECKS_STRICT."""
    raise _NotRun(reason)


@dataclass(frozen=True)
class Result:
    chapter: str
    exercise: str
    passed: bool
    message: str
    hint: str | None = None
    #: True when the check raised an unexpected exception instead of passing or calling fail()
    crashed: bool = False
    #: False when the check could not run here (not_run(): a tool is missing); then passed is False too
    ran: bool = True

    def __bool__(self) -> bool:
        return self.passed

    @property
    def line(self) -> str:
        if not self.ran:
            return f"➖ {self.exercise}: not run: {self.message}"
        mark = "✅" if self.passed else "❌"
        text = f"{mark} {self.exercise}: {self.message}"
        if not self.passed and self.hint:
            text += f" Hint: {self.hint}"
        return text

    def __repr__(self) -> str:
        state = "passed" if self.passed else "not run" if not self.ran else "crashed" if self.crashed else "failed"
        return f"<check {self.chapter}.{self.exercise}: {state}>"

    def _ipython_display_(self):  # the line was printed already; show nothing twice
        pass


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def exercise(chapter: str, hint: str | None = None, name: str | None = None):
    """Turn ``fn(answer) -> str`` into a check that prints ✅/❌ and records progress."""

    def decorate(fn):
        ex_name = name or fn.__name__

        @functools.wraps(fn)
        def check(*args, **kwargs) -> Result | None:
            judging = catchup.judging(chapter, ex_name)
            if catchup.running() and not judging:  # a reference cell's own check: the learner's speaks
                return None
            try:
                message = fn(*args, **kwargs)
                result = Result(chapter, ex_name, True, message or "verified")
            except _Fail as f:
                result = Result(chapter, ex_name, False, f.message, f.hint or hint)
            except _NotRun as reason:
                result = Result(chapter, ex_name, False, str(reason), ran=False)
                print(result.line)
                return result
            except NotImplementedError:
                result = Result(chapter, ex_name, False, "not answered yet (the cell still raises \"your turn\")", hint)
            except Exception as exc:  # noqa: BLE001 - a wrong answer must not become a traceback
                result = Result(
                    chapter, ex_name, False,
                    f"could not check your answer ({type(exc).__name__}: {_first_line(exc)})", hint,
                    crashed=True,
                )
            if judging:  # verify mode: the verdict on the reference answer, printed by catch-up
                catchup.verdict(result)
                return None
            print(result.line)
            try:
                progress.record(result)
            except OSError:
                pass  # feedback matters more than bookkeeping
            if not result.passed and settings().checks_strict:
                raise CheckFailed(result.line)
            if not result.passed:
                catchup.after_failure(chapter, ex_name)
            return result

        check.exercise_name = ex_name
        check.chapter = chapter
        registry.setdefault(chapter, {})[ex_name] = check
        return check

    return decorate


def load_all() -> dict[str, dict[str, object]]:
    """Import every chNN module so :data:`registry` lists all exercises."""
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("ch"):
            importlib.import_module(f"{__name__}.{info.name}")
    return registry


def __getattr__(attr: str):
    # lablib.check.ch02 imports lazily, so `import lablib` stays fast
    if attr.startswith("ch") and attr[2:].isdigit():
        try:
            return importlib.import_module(f"{__name__}.{attr}")
        except ModuleNotFoundError:
            raise AttributeError(f"no checks for chapter {attr[2:]}") from None
    raise AttributeError(attr)
