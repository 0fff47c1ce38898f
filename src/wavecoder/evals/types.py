"""Evaluation records: a benchmark `Problem`, a model's `Completion`, the `Outcome` of running it.

They live in `wavecoder.records` with every other record; this module names them for the
evaluator. A `Problem` carries everything a benchmark needs to build a program from a completion
(`prompt`, `test`, `entry_point`, plus benchmark-specific `extra` strings such as HumanEvalPack's
`declaration` or MBPP's `test_setup_code`). Nothing here runs code.
"""

from wavecoder.records import Completion, Outcome, OutcomeStatus, Problem

__all__ = ["Completion", "Outcome", "OutcomeStatus", "Problem"]
