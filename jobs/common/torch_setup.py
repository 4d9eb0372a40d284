"""What every torch job sets before it builds its model: threads, seed and device.

The thread count is the runner's (the cores the orchestrator gave the job), the seed is the spec's,
and the device follows the one device policy (jobs/common/device.py), so an absent device is refused
before any work. torch is imported here, not at module level: the sklearn image has no torch.
"""

from jobs.common.device import torch_device
from jobs.common.runner import thread_count
from shared_schema import ExperimentSpec


def start_torch(spec: ExperimentSpec):
    """Set torch's threads and seed for this job; returns the torch.device it runs on."""
    import torch

    torch.set_num_threads(thread_count())
    torch.manual_seed(spec.seed)
    return torch_device(spec.device)
