"""Assertions for the tests of a check: accepted, or rejected for the reason the learner reads.

    from checking import accepts, rejects

    accepts(ch02.dedupe_orders(right))
    rejects(ch02.dedupe_orders(wrong), "duplicate order_id remain")

A check that crashes also returns a falsy Result ("could not check your answer (…)"), so a bare
``assert not`` on the result cannot tell a rejection from a bug: ``rejects`` can.
"""

from __future__ import annotations

from lablib.check import Result


def _said(result: Result) -> str:
    """What the learner reads about the answer: the message and the hint (not the exercise's name)."""
    return result.message + (f" Hint: {result.hint}" if result.hint else "")


def accepts(result) -> None:
    """The check passed."""
    __tracebackhide__ = True
    assert isinstance(result, Result), f"not a check result: {result!r}"
    assert result.passed, f"the check rejected a right answer: {result.line}"


def rejects(result, reason: str) -> None:
    """The check said ❌ without crashing, and its message (or hint) contains ``reason``."""
    __tracebackhide__ = True
    assert reason.strip(), "name the reason the check must give (a fragment of its message)"
    assert isinstance(result, Result), f"not a check result: {result!r}"
    assert not result.crashed, f"the check crashed instead of rejecting the answer: {result.line}"
    assert not result.passed, f"the check accepted a wrong answer: {result.line}"
    assert reason in _said(result), f"rejected, but not for the reason {reason!r}: {result.line}"
