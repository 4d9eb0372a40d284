"""Facts about the host that a job cannot know: git state and platform."""

import platform
import subprocess

from orchestrator.paths import CODE_ROOT, IS_CHECKOUT


def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout, or (None, None) outside a git repository. An installed copy has
    none, even when its site-packages lies inside some repository (a venv in a clone)."""
    if not IS_CHECKOUT:
        return None, None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=CODE_ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=CODE_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        return commit, bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


def host_platform() -> str:
    return f"{platform.system()}-{platform.machine()} ({platform.platform()})"
