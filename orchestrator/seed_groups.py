"""Which planned runs share one process: the seeds of one experiment, where its model's job can
train them together (`Model.group_entry`: one data load, one CUDA context). Each seed stays an
ordinary run with its own key, staging folder and result; only the process is shared."""

from collections.abc import Callable

from jobs.registry import GROUP_ENTRYPOINTS
from orchestrator.environments import Environment
from orchestrator.planner import Decision


def seed_groups(
    decisions: list[Decision], executor_groups_seeds: Callable[[Environment], bool]
) -> list[tuple[Decision, ...]]:
    """Runs in plan order; seeds of one (experiment, profile, hyper-parameters) are joined when
    both the executor that runs the env (`Executor.groups_seeds`) and the experiment's model support
    it, else every run is its own unit."""
    units: dict[tuple, list[Decision]] = {}
    for d in decisions:
        spec = d.run.spec
        if spec.model in GROUP_ENTRYPOINTS and executor_groups_seeds(d.run.environment):
            key = ("group", spec.model_dump_json(exclude={"seed"}), d.run.key.env_fingerprint)
        else:
            key = ("alone", d.run.folder_name)  # one run each (walk-forward folds share slug and seed)
        units.setdefault(key, []).append(d)
    return [tuple(unit) for unit in units.values()]
