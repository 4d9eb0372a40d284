"""Facts about the host that a job cannot know: git state and platform."""

import platform
import subprocess

from orchestrator.paths import REPO_ROOT


def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout, or (None, None) outside a git repository."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
        return commit, bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


def host_platform() -> str:
    return f"{platform.system()}-{platform.machine()} ({platform.platform()})"
