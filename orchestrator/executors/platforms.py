"""Which platform an env's image is built for and run on, and why: chosen per engine, not assumed.

An env declares its platform in orchestrator/environments.py: none (the engine's own), a fixed
one, or a `PlatformChoice`: the preferred platform where this engine's containers of that platform
have the CPU flags the env's binaries need, else a fallback. TimesFM is the case: its pinned jaxlib
x86 wheel is built with AVX and refuses to start without it, and Docker Desktop on Apple silicon
runs linux/amd64 containers under Rosetta, which reports no AVX; every timesfm pin also has an
aarch64 wheel, so such an engine gets the linux/arm64 image instead.

The flags are probed once per engine (engine id, version and kernel: a Docker Desktop update may
change its emulation) by running the platform's base image with a few bytes of x86-64 machine code
that execute CPUID (and XGETBV, whether the OS enables AVX state), the same test jaxlib makes; the
answer is cached under <cache>/docker/. `ORCH_<ENV>_PLATFORM` wins over the choice; a preferred
platform set that way on an engine lacking its flags is refused before any work, naming the switch.

`docker compose up timesfm-h1` takes the same choice: compose.yaml reads the platform from
ORCH_TIMESFM_PLATFORM (default: the preferred one), and each choice is written into the `.env`
beside compose.yaml, which compose reads (a variable set in the shell still wins there too).
"""

import functools
import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from orchestrator.environments import Environment, PlatformChoice
from orchestrator.errors import UserError
from orchestrator.executors.engine import base_image, docker, engine_platform, ensure_base_image
from orchestrator.paths import CODE_ROOT, cache_dir
from shared_schema.files import atomic_write_text

# Run with `python3 -c` in an x86-64 container: prints {"flags": [...]} (AVX only when the OS has
# enabled its register state too). The machine code is the SysV ABI functions
#   cpuid(leaf, subleaf, uint32 out[4]):  push rbx; mov r8,rdx; mov eax,edi; mov ecx,esi; cpuid;
#                                         mov [r8],eax; mov [r8+4],ebx; mov [r8+8],ecx; mov [r8+12],edx; pop rbx; ret
#   xgetbv(index) -> uint64:              mov ecx,edi; xgetbv; shl rdx,32; or rax,rdx; ret
PROBE_SCRIPT = r"""
import ctypes, json, mmap, platform, sys
if platform.machine() not in ("x86_64", "AMD64"):
    sys.exit("not an x86-64 container: " + platform.machine())
CPUID = bytes.fromhex("534989d089f889f10fa241890041895804418948084189500c5bc3")
XGETBV = bytes.fromhex("89f90f01d048c1e2204809d0c3")
pages = []  # the executable pages stay mapped while their functions are in use
def function(code, restype, *argtypes):
    pages.append(mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC))
    pages[-1].write(code)
    return ctypes.CFUNCTYPE(restype, *argtypes)(ctypes.addressof(ctypes.c_char.from_buffer(pages[-1])))
cpuid = function(CPUID, None, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32 * 4))
def registers(leaf):
    out = (ctypes.c_uint32 * 4)()
    cpuid(leaf, 0, ctypes.byref(out))
    return list(out)
highest = registers(0)[0]
_, _, ecx, _ = registers(1)
ebx7 = registers(7)[1] if highest >= 7 else 0
os_avx = bool(ecx >> 27 & 1) and function(XGETBV, ctypes.c_uint64, ctypes.c_uint32)(0) & 6 == 6
flags = {"avx": bool(ecx >> 28 & 1) and os_avx, "fma": bool(ecx >> 12 & 1) and os_avx,
         "avx2": bool(ebx7 >> 5 & 1) and os_avx, "sse4_2": bool(ecx >> 20 & 1)}
print(json.dumps({"flags": sorted(name for name, present in flags.items() if present)}))
"""
PROBE_TIMEOUT_S = 300  # a first run may pull the base image


@dataclass(frozen=True)
class CpuProbe:
    """What x86 CPU flags this engine's containers of `platform` see; flags None = the probe could not run."""

    platform: str
    flags: tuple[str, ...] | None
    detail: str


@dataclass(frozen=True)
class PlatformDecision:
    platform: str | None  # None: the engine's own platform
    reason: str


def override_variable(env: Environment) -> str:
    return f"ORCH_{env.name.upper()}_PLATFORM"


@functools.cache
def engine_key() -> str:
    """Names this engine and what it emulates with: id, version, kernel, OS."""
    try:
        done = docker(
            "info", "--format", "{{.ID}} {{.ServerVersion}} {{.KernelVersion}} {{.OperatingSystem}}", timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return "no-engine"
    return hashlib.sha256(done.stdout.strip().encode()).hexdigest()[:12] if done.returncode == 0 else "no-engine"


def probe_file(platform: str) -> Path:
    return cache_dir() / "docker" / f"cpu-probe-{engine_key()}-{platform.replace('/', '-')}.json"


def record_probe(platform: str, flags: tuple[str, ...], detail: str) -> CpuProbe:
    """Store a probe's answer for this engine (the probe itself, or a test standing in for another engine)."""
    probe = CpuProbe(platform, tuple(sorted(flags)), detail)
    path = probe_file(platform)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"platform": platform, "flags": probe.flags, "detail": detail}) + "\n")
    _cached_probe.cache_clear()
    return probe


def probe_cpu(platform: str) -> CpuProbe:
    """This engine's answer for `platform`, probed on first use and cached per engine."""
    return _cached_probe(platform, probe_file(platform))


@functools.cache
def _cached_probe(platform: str, path: Path) -> CpuProbe:
    """An answer is stored once it is known; a probe that could not run is retried by the next orch."""
    try:
        stored = json.loads(path.read_text())
        return CpuProbe(platform, tuple(stored["flags"]), stored["detail"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    flags, detail = _run_probe(platform)
    return CpuProbe(platform, None, detail) if flags is None else record_probe(platform, flags, detail)


def _run_probe(platform: str) -> tuple[tuple[str, ...] | None, str]:
    image = base_image(platform)
    command = ["docker", "run", "--rm", "--network", "none", "--platform", platform, image, "python3", "-c"]
    try:
        ensure_base_image(image, platform)
        done = subprocess.run(
            [*command, PROBE_SCRIPT], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False
        )
    except UserError as exc:
        return None, f"no {platform} base image to probe with: {exc}"
    except OSError as exc:
        return None, f"no Docker CLI to probe with: {exc}"
    except subprocess.TimeoutExpired:
        return None, f"a {platform} container did not answer within {PROBE_TIMEOUT_S}s"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return None, f"a {platform} container could not run the probe: {last[:200]}"
    try:
        flags = tuple(json.loads(done.stdout.strip().splitlines()[-1])["flags"])
    except (ValueError, KeyError, IndexError):
        return None, f"the probe printed no answer: {done.stdout[-200:]!r}"
    return flags, f"CPUID in a {platform} container ({image})"


def decide(env: Environment) -> PlatformDecision:
    """The env's image platform on this engine and the reason, or UserError when an explicitly set
    platform cannot run the env's binaries here."""
    rule = env.docker_platform
    variable = override_variable(env)
    explicit = os.environ.get(variable)
    if explicit:
        if isinstance(rule, PlatformChoice) and explicit == rule.preferred:
            missing = missing_flags(rule, probe_cpu(rule.preferred))
            if missing:
                raise UserError(
                    f"{variable}={explicit}: this Docker engine's {explicit} containers lack "
                    f"{', '.join(missing)}, which {rule.needs_why}; set {variable}={rule.fallback} (or unset it)"
                )
        return PlatformDecision(explicit, f"set by {variable}")
    if rule is None:
        return PlatformDecision(None, "the engine's own platform")
    if isinstance(rule, str):
        return PlatformDecision(rule, "the env's platform")
    probe = probe_cpu(rule.preferred)
    if probe.flags is None:
        if engine_key() == "no-engine" or engine_platform() == rule.preferred:
            return PlatformDecision(rule.preferred, f"the engine's own platform (CPU probe failed: {probe.detail})")
        return PlatformDecision(rule.fallback, f"this engine cannot run {rule.preferred} containers: {probe.detail}")
    missing = missing_flags(rule, probe)
    if missing:
        decision = PlatformDecision(
            rule.fallback,
            f"this engine's {rule.preferred} containers lack {', '.join(missing)} (e.g. Rosetta), which "
            f"{rule.needs_why}; {variable} overrides",
        )
    else:
        decision = PlatformDecision(
            rule.preferred,
            f"this engine's {rule.preferred} containers have {', '.join(rule.needs)}; {variable} overrides",
        )
    sync_compose_env(variable, decision.platform, default=rule.preferred)
    return decision


def compose_env_file() -> Path:
    """The `.env` docker compose reads: beside compose.yaml."""
    return CODE_ROOT / ".env"


def sync_compose_env(variable: str, platform: str, *, default: str) -> None:
    """Make the compose `.env` agree with this engine's choice: `variable=platform` where it differs
    from compose.yaml's default, no line where it does not; the file's other lines are kept. Nothing
    is written where there is no compose.yaml (an installed copy) or the folder is read-only."""
    path = compose_env_file()
    if not (path.parent / "compose.yaml").is_file():
        return
    try:
        lines = path.read_text().splitlines() if path.is_file() else []
    except OSError:
        return
    kept = [line for line in lines if not line.startswith((f"{variable}=", f"# {variable}:"))]
    if platform != default:
        kept += [f"# {variable}: chosen by orch for this Docker engine (see `orch doctor`)", f"{variable}={platform}"]
    if kept == lines:
        return
    try:
        if kept:
            atomic_write_text(path, "\n".join(kept) + "\n")
        else:
            path.unlink()
    except OSError:
        return


def missing_flags(rule: PlatformChoice, probe: CpuProbe) -> list[str]:
    """Flags the rule needs that the probe did not see (none when the probe could not run)."""
    return [] if probe.flags is None else [flag for flag in rule.needs if flag not in probe.flags]
