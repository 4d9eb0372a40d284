"""Which planned runs share one process: the seeds of one experiment, where its env can train
them together (one data load, one CUDA context). Each seed stays an ordinary run with its own
key, staging folder and result; only the process is shared."""

from jobs.registry import GROUP_ENTRYPOINTS
from orchestrator.planner import Decision


def seed_groups(decisions: list[Decision], executor_can_group: bool) -> list[tuple[Decision, ...]]:
    """Runs in plan order; seeds of one (experiment, profile, hyper-parameters) are joined when
    both the executor and the experiment's env support it, else every run is its own unit."""
    if not executor_can_group:
        return [(d,) for d in decisions]
    units: dict[tuple, list[Decision]] = {}
    for d in decisions:
        spec = d.run.spec
        if spec.env in GROUP_ENTRYPOINTS:
            key = ("group", spec.model_dump_json(exclude={"seed"}), d.run.key.env_fingerprint)
        else:
            key = ("alone", d.run.folder_name)  # one run each (walk-forward folds share slug and seed)
        units.setdefault(key, []).append(d)
    return [tuple(unit) for unit in units.values()]
