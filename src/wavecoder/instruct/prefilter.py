"""The rule-based pre-filter between generator and discriminator (reference §3.6; pure).

After a reply parses into one case (`parsing.py`: no case / two cases are its failures), a case
is rejected when (rule name, as in the reason `prefilter.<rule>`):

    noinput_fields         more than one field is `<noinput>`
    instruction_sentences  the instruction is not one or two sentences
    information_sentences  prose information of more than two sentences
    information_code       the task puts code in `information` (summarize, translate, repair)
                           but it is empty or `<noinput>`
    empty_solution         no solution

An `information` of `none`, `none.`, `none,`, `n/a`, `no additional information is required`
or nothing becomes `<noinput>` first. Sentences end at `.`, `!` or `?` followed by whitespace or
the end of the text (the repository's split). The two-sentence rule on `information` applies to
tasks whose information is prose (code generation, the paper's only published task): for the
others it holds code, which has no sentences. Not here: the LLM judge's rules (`judge.py`).
"""

from __future__ import annotations

import dataclasses
import re

from wavecoder.instruct.parsing import Case
from wavecoder.instruct.task import Information

NOINPUT = "<noinput>"
_REQUIRED = "no additional information is required"
_NONE_LIKE = {"", "none", "none.", "none,", "n/a", "no input", "<no input>", NOINPUT, _REQUIRED,
              _REQUIRED + "."}  # fmt: skip
_SENTENCE_END = re.compile(r"(?<=[.!?])(?:\s+|$)")


class Rejection(ValueError):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def normalise_information(text: str) -> str:
    return NOINPUT if text.strip().lower() in _NONE_LIKE else text


def prefilter(case: Case, *, information: Information) -> Case:
    """The case with `information` normalised, or `Rejection` naming the rule it breaks."""
    case = dataclasses.replace(case, information=normalise_information(case.information))
    fields = (case.task_name, case.instruction, case.information, case.solution)
    if sum(f.strip().lower() == NOINPUT for f in fields) > 1:
        raise Rejection("noinput_fields", "more than one field is <noinput>")
    n = len(sentences(case.instruction))
    if not 1 <= n <= 2:
        raise Rejection("instruction_sentences", f"the instruction has {n} sentences, not 1-2")
    if information == "prose" and case.information != NOINPUT:
        n = len(sentences(case.information))
        if n > 2:
            raise Rejection("information_sentences", f"the information has {n} sentences, not <= 2")
    if information == "code" and case.information == NOINPUT:
        raise Rejection("information_code", "the information must hold the input code")
    if not case.solution.strip() or case.solution.strip().lower() == NOINPUT:
        raise Rejection("empty_solution", "the solution is empty")
    return case
