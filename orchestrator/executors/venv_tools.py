"""How a native venv gets its pinned packages: uv when it is installed, pip otherwise.

Both install exactly the env's requirements file into a venv made by `python -m venv` (so the venv
has the same layout and its own pip either way), hence the same environment identity: the run key
depends on the pins, the Python and the platform, never on the installer.

uv reads neither pip.conf nor PIP_* variables, so the host's pip settings (the machine's find-links,
extra indexes, constraints, CA bundle, timeout; `pip config list` shows them) are handed to uv as
its own options. ORCH_VENV_TOOL=pip|uv forces one installer; unset or `auto` means uv when found.
"""

import ast
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import UserError

TOOL_VARIABLE = "ORCH_VENV_TOOL"
TOOLS = ("auto", "uv", "pip")

# Output lines worth showing while a venv builds: pip's per-package ones, uv's summary and its
# one line per installed package (" + name==version").
MILESTONES = {
    "pip": ("Collecting ", "Installing collected packages", "Successfully installed"),
    "uv": ("Resolved ", "Prepared ", "Installed ", " + "),
}


@dataclass(frozen=True)
class Installer:
    name: str  # "uv" or "pip"
    executable: Path | None  # the uv binary; None for pip (the venv's own)

    def install_command(self, python: Path, requirements: Path, settings: "PipSettings", *, no_deps: bool) -> list[str]:
        """The command that installs `requirements` into `python`'s venv; `no_deps`: the pins exactly,
        without resolving their declared requirements (Environment.installs_without_dependencies)."""
        if self.name == "pip":
            return [
                str(python),
                "-m",
                "pip",
                "install",
                "--progress-bar",
                "off",
                "--disable-pip-version-check",
                *(["--no-deps"] if no_deps else []),
                "-r",
                str(requirements),
            ]
        return [
            str(self.executable),
            "pip",
            "install",
            "--python",
            str(python),
            "--color",
            "never",
            # pip's rule: the best matching version across every index (uv's default takes the first
            # index that has the package, which may lack the pinned version)
            "--index-strategy",
            "unsafe-best-match",
            *settings.uv_options(),
            *(["--no-deps"] if no_deps else []),
            "-r",
            str(requirements),
        ]

    def environment(self, settings: "PipSettings") -> dict[str, str]:
        """Variables for the install step: uv gets pip's CA bundle and timeout its own way."""
        if self.name == "pip":
            return dict(os.environ)
        extra = {}
        if settings.cert:
            extra["SSL_CERT_FILE"] = settings.cert
        if settings.timeout:
            extra["UV_HTTP_TIMEOUT"] = settings.timeout
        return {**os.environ, **extra}

    def milestones(self) -> tuple[str, ...]:
        return MILESTONES[self.name]


def find_uv() -> Path | None:
    """The uv binary beside this interpreter (the PyPI `uv` package), in the uv package, or on PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    if importlib.util.find_spec("uv") is not None:
        from uv import find_uv_bin

        try:
            return Path(find_uv_bin())
        except FileNotFoundError:
            pass
    found = shutil.which("uv")
    return Path(found) if found else None


def choose_installer() -> Installer:
    """ORCH_VENV_TOOL (auto, uv or pip): uv when asked or found, pip otherwise."""
    wanted = os.environ.get(TOOL_VARIABLE, "auto").strip().lower() or "auto"
    if wanted not in TOOLS:
        raise UserError(f"{TOOL_VARIABLE}={wanted!r}: expected one of {', '.join(TOOLS)}")
    if wanted == "pip":
        return Installer("pip", None)
    uv = find_uv()
    if uv is None and wanted == "uv":
        raise UserError(f"{TOOL_VARIABLE}=uv but no uv is installed: pip install uv (or set {TOOL_VARIABLE}=pip)")
    return Installer("uv", uv) if uv else Installer("pip", None)


@dataclass(frozen=True)
class PipSettings:
    """The pip options that decide where packages come from, as pip itself would apply them."""

    index_url: str | None
    extra_index_urls: tuple[str, ...]
    find_links: tuple[str, ...]
    constraints: tuple[str, ...]
    no_index: bool
    cert: str | None
    timeout: str | None

    def uv_options(self) -> list[str]:
        options = ["--index-url", self.index_url] if self.index_url else []
        for url in self.extra_index_urls:
            options += ["--extra-index-url", url]
        for location in self.find_links:
            options += ["--find-links", location]
        for constraint in self.constraints:
            options += ["--constraint", constraint]
        return options + (["--no-index"] if self.no_index else [])


def read_pip_settings() -> PipSettings:
    """`pip config list` of the host's pip: every config file pip reads and the PIP_* variables."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
        listing = done.stdout if done.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):
        listing = ""
    return parse_pip_config(listing)


def parse_pip_config(listing: str) -> PipSettings:
    """`section.key='value'` lines; PIP_* variables (`:env:`) win over [install], which wins over [global]."""
    ranked: dict[str, tuple[int, str]] = {}
    rank = {":env:": 3, "install": 2, "global": 1}
    for line in listing.splitlines():
        head, sep, raw = line.partition("=")
        section, dot, key = head.rpartition(".")
        if not sep or not dot or section not in rank:
            continue
        try:
            value = str(ast.literal_eval(raw))
        except (ValueError, SyntaxError):
            value = raw.strip("'\"")
        if key not in ranked or rank[section] > ranked[key][0]:
            ranked[key] = (rank[section], value)
    value = {key: found for key, (_, found) in ranked.items()}

    def many(key: str) -> tuple[str, ...]:
        return tuple(value.get(key, "").split())

    return PipSettings(
        index_url=value.get("index-url") or None,
        extra_index_urls=many("extra-index-url"),
        find_links=many("find-links"),
        constraints=many("constraint"),
        no_index=value.get("no-index", "").lower() in ("1", "true", "yes", "on"),
        cert=value.get("cert") or None,
        timeout=value.get("default-timeout") or value.get("timeout") or None,
    )


def installer_version(installer: Installer) -> str:
    """'uv 0.13.9' or 'pip', recorded beside the venv (never in the environment identity)."""
    if installer.executable is None:
        return installer.name
    try:
        done = subprocess.run([str(installer.executable), "--version"], capture_output=True, text=True, timeout=30)
        return done.stdout.strip().split(" (")[0] or installer.name
    except (OSError, subprocess.TimeoutExpired):
        return installer.name
