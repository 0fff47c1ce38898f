"""The four tasks, one module each: `TASKS[name]` is its `TaskSpec` (see `wavecoder.instruct.task`).

An explicit table, no registry: adding a task is a module here, its two prompt files, its seed
cases (`seeds/<task>.yaml`) and a line below (CONTRIBUTING.md).
"""

from __future__ import annotations

from wavecoder.instruct.task import TaskSpec
from wavecoder.instruct.tasks import generate, repair, summarize, translate
from wavecoder.records import Task

TASKS: dict[Task, TaskSpec] = {
    "generate": generate.SPEC,
    "summarize": summarize.SPEC,
    "translate": translate.SPEC,
    "repair": repair.SPEC,
}


def spec_for(task: Task, *, repair_bugs: str = "inject") -> TaskSpec:
    """The spec of `task`; repair with `repair_bugs="generator"` has the teacher write the bug."""
    if task == "repair" and repair_bugs == "generator":
        return repair.SPEC_WRITE_BUG
    return TASKS[task]
