"""A Jupyter kernel running in an env's own venv, for executing generated notebooks with nbclient.

The venv stays as `orch` built it (its lock is its identity): ipykernel and its dependencies go to
an overlay folder that the kernel appends to sys.path *after* the venv's site-packages, so every
pinned package still comes from the venv.
"""

import json
import os
import subprocess
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

KERNEL_NAME = "fdinvest-env"
LAUNCH = (
    "import sys; sys.path.append({overlay!r}); "
    "from ipykernel.kernelapp import launch_new_instance; launch_new_instance()"
)


def kernel_overlay(python: Path, folder: Path) -> Path:
    """ipykernel installed for `python` into `folder` (once: a marker file says it is complete)."""
    if not (folder / ".ready").is_file():
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
                str(folder),
                "ipykernel",
            ],
            check=True,
            capture_output=True,
            timeout=900,
        )
        (folder / ".ready").write_text("ok\n")
    return folder


def kernel_spec(python: Path, overlay: Path, spec_dir: Path) -> Path:
    """A kernelspec folder (one kernel, KERNEL_NAME) that starts `python` with the overlay."""
    folder = spec_dir / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    argv = [str(python), "-c", LAUNCH.format(overlay=str(overlay)), "-f", "{connection_file}"]
    (folder / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "fdinvest env", "language": "python"})
    )
    return spec_dir


def with_parameters(notebook_path: Path, **values) -> nbformat.NotebookNode:
    """papermill's convention: a cell tagged injected-parameters right after the parameters cell."""
    notebook = nbformat.read(str(notebook_path), as_version=4)
    index = next(i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", []))
    injected = new_code_cell("\n".join(f"{name} = {value!r}" for name, value in values.items()))
    injected.metadata["tags"] = ["injected-parameters"]
    notebook.cells.insert(index + 1, injected)
    return notebook


def execute(notebook: nbformat.NotebookNode, spec_dir: Path, workdir: Path, timeout: int = 900) -> None:
    """Run every cell in a fresh kernel with `workdir` as its cwd; raises CellExecutionError on a failing cell.

    The kernel's environment drops PYTHONPATH, so the project is importable only from the bundle
    the notebook writes."""
    workdir.mkdir(parents=True, exist_ok=True)
    manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir)]))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"JAX_PLATFORMS": "cpu", "OMP_NUM_THREADS": "2", "PYTHONHASHSEED": "0"})
    client = NotebookClient(notebook, km=manager, timeout=timeout)
    client.execute(env=env, cwd=str(workdir))
