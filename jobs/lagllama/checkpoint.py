"""Reading (and, for tests, writing) the published Lag-Llama Lightning checkpoint, offline.

The checkpoint is `torch.save` of a Lightning dict: 'state_dict' (names prefixed 'model.'),
'hyper_parameters' (pickled: model_kwargs with a GluonTS StudentTOutput, and a loss object of
`gluonts.torch.modules.loss.NegativeLogLikelihood`, a module GluonTS 0.15 removed), plus trainer
state. A checkpoint may come from anywhere (`orch weights import`), so it is read with
`torch.load(weights_only=True)`: every global its pickle names besides torch's own must be one the
published file names (PUBLISHED_GLOBALS), and each is read as an inert stand-in, so nothing named
by the file is ever called; any other global is refused with its name. The weights are then
loaded strictly.
"""

import contextlib
import importlib.util
import pickle
import re
import sys
import types
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from jobs.common.errors import JobError
from jobs.common.weights import MANIFEST_FILE, sha256_file, verified_weights, weights_source
from jobs.lagllama.config import LagLlamaConfig
from jobs.lagllama.model import LagLlamaModule
from jobs.lagllama.published import CHECKPOINT_FILE, FACTS, PICKLE_GLOBALS
from shared_schema import WeightsManifest, WeightsSource
from shared_schema.checkpoints import tensor_shapes

LEGACY_LOSS_MODULE = "gluonts.torch.modules.loss"
MODEL_DIR = "lagllama"
HUB_ID = "time-series-foundation-models/Lag-Llama"
PULL_COMMAND = "orch weights pull lag-llama"


class _LegacyObject:
    """Stand-in for any class of the removed module: keeps whatever state was pickled."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.state = state

    def __repr__(self) -> str:
        return f"<legacy {type(self).__module__}.{type(self).__name__} {self.__dict__}>"


def _stand_in_class(path: str) -> type:
    module, _, name = path.rpartition(".")
    return type(name, (_LegacyObject,), {"__module__": module})


# The classes the published checkpoint's hyper-parameters hold, each read as a _LegacyObject.
STAND_IN_CLASSES = {path: _stand_in_class(path) for path in PICKLE_GLOBALS if path.startswith("gluonts.")}


class _NewObject:
    """Stand-in for what gluonts' loss pickles as at protocol 2: functools.partial(object.__new__,
    cls, **init_args), called once. Calling it makes an inert stand-in of `cls` (only of a stand-in
    class); torch's weights-only unpickler calls only allow-listed objects, so each instance allows itself."""

    def __init__(self, func: Any = None) -> None:
        self.cls: type | None = None

    def __setstate__(self, state: Any) -> None:  # (func, args, keywords, __dict__), as partial pickles itself
        args = state[1] if isinstance(state, tuple) and len(state) == 4 else ()
        cls = args[0] if args else None
        if cls not in STAND_IN_CLASSES.values():
            raise pickle.UnpicklingError(f"functools.partial of {cls!r}, not of a class the published checkpoint holds")
        self.cls = cls
        torch.serialization.add_safe_globals([(self, f"{__name__}.new-object-{id(self)}")])

    def __call__(self) -> Any:
        if self.cls is None:
            raise pickle.UnpicklingError("functools.partial called before its state was read")
        return self.cls()


def _forget_new_objects() -> None:
    """Drop the _NewObject instances one read allow-listed, keeping every other safe global."""
    kept = [
        g for g in torch.serialization.get_safe_globals() if not (isinstance(g, tuple) and isinstance(g[0], _NewObject))
    ]
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(kept)


def _ignored_getattr(owner: Any, name: str) -> None:
    """Stand-in for getattr(object, "__new__"), the partial's function: _NewObject does not call it."""


class _NoOwner:
    """Stand-in for `object` as the owner of `__new__` above."""


# Every global the published checkpoint's pickle names besides torch's own -> its stand-in.
PUBLISHED_GLOBALS = {
    **STAND_IN_CLASSES,
    "functools.partial": _NewObject,
    "builtins.getattr": _ignored_getattr,
    "builtins.object": _NoOwner,
}


def _why_refused(exc: pickle.UnpicklingError) -> str:
    """torch's weights-only error in one line: the global it met, else its own reason."""
    text = str(exc)
    named = re.search(r"GLOBAL (\S+)", text)
    if named:
        return (
            f"its pickle names {named.group(1)}, which the published checkpoint does not (read with weights_only=True)"
        )
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    detail = next(
        (line for line in lines if "WeightsUnpickler error" in line or "functools.partial" in line), lines[-1]
    )
    return " ".join(detail.split())[:300]


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint dict, read with weights_only=True and the published globals as stand-ins;
    JobError naming what is refused (code the file would run, or a damaged file)."""
    allowed = [(stand_in, name) for name, stand_in in PUBLISHED_GLOBALS.items()]
    try:
        with torch.serialization.safe_globals(allowed):
            checkpoint = torch.load(Path(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise JobError(f"{path}: refused: {_why_refused(exc)}") from None
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise JobError(f"{path}: not a readable torch checkpoint ({' '.join(str(exc).split())[:200]})") from None
    finally:
        _forget_new_objects()
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise JobError(f"{path}: not a Lightning checkpoint (no 'state_dict')")
    return checkpoint


def config_from_checkpoint(checkpoint: dict[str, Any]) -> LagLlamaConfig:
    kwargs = (checkpoint.get("hyper_parameters") or {}).get("model_kwargs")
    if not kwargs:
        return LagLlamaConfig()
    return LagLlamaConfig.from_model_kwargs(dict(kwargs))


def load_module(path: Path, config: LagLlamaConfig | None = None) -> tuple[LagLlamaModule, dict[str, Any]]:
    """The checkpoint's weights in a LagLlamaModule, loaded strictly (every name and shape)."""
    checkpoint = read_checkpoint(path)
    config = config or config_from_checkpoint(checkpoint)
    module = LagLlamaModule(config)
    try:
        module.load_state_dict(checkpoint["state_dict"], strict=True)
    except RuntimeError as exc:
        raise JobError(
            f"{path}: checkpoint does not fit the Lag-Llama architecture: {' '.join(str(exc).split())[:300]}"
        ) from exc
    return module, checkpoint


# ---------------------------------------------------------------------------------------------
# Weights cache


def resolve_weights(weights_dir: Path | None) -> tuple[Path, WeightsManifest, WeightsSource]:
    """The checkpoint under <weights_dir>/lagllama/, its manifest checked; fails fast when absent."""
    folder, manifest = verified_weights(weights_dir, MODEL_DIR, "Lag-Llama", PULL_COMMAND)
    manifest_file = folder / MANIFEST_FILE
    ckpts = [n for n in manifest.files if n.endswith(".ckpt")]
    if not ckpts:
        raise JobError(f"{manifest_file} lists no .ckpt file; run `{PULL_COMMAND}`")
    name = CHECKPOINT_FILE if CHECKPOINT_FILE in ckpts else sorted(ckpts)[0]
    if manifest.kind == "pretrained":
        check_published(folder / name, manifest)
    return folder / name, manifest, weights_source(manifest, name)


def check_published(path: Path, manifest: WeightsManifest) -> None:
    """A checkpoint weights.json calls the published one must be it: every tensor name and shape
    (jobs/lagllama/published.py), read without unpickling anything the file names."""
    try:
        tensors = tensor_shapes(path)
    except ValueError as exc:
        raise JobError(f"{path}: cannot compare with the published checkpoint ({exc})") from None
    differences = FACTS.differences(files=manifest.files, tensors=tensors)
    if differences:
        raise JobError(
            f"{path.parent / MANIFEST_FILE} says pretrained {manifest.hub_id}, but this is not its checkpoint: "
            f"{'; '.join(differences)}; reinstall with `{PULL_COMMAND}` or `orch weights import lag-llama PATH`"
        )


# ---------------------------------------------------------------------------------------------
# Writing the published format (tests, benchmarks): random weights, faithful pickle


def _model_kwargs(config: LagLlamaConfig) -> dict[str, Any]:
    from gluonts.torch.distributions import StudentTOutput

    return {
        "context_length": config.context_length,
        "max_context_length": 2048,
        "scaling": config.scaling,
        "input_size": config.input_size,
        "n_layer": config.n_layer,
        "n_embd_per_head": config.n_embd_per_head,
        "n_head": config.n_head,
        "lags_seq": list(config.lags_seq),
        "distr_output": StudentTOutput(),
        "num_parallel_samples": 100,
        "rope_scaling": None,
        "time_feat": config.time_feat,
        "dropout": config.dropout,
    }


def _module_exists(name: str) -> bool:
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


@contextlib.contextmanager
def _writable_legacy_module():
    """Registers real classes under the removed module's name so the pickle references it."""
    if _module_exists(LEGACY_LOSS_MODULE):
        raise RuntimeError(f"{LEGACY_LOSS_MODULE} exists in this GluonTS; refusing to shadow it")
    module = types.ModuleType(LEGACY_LOSS_MODULE)

    class DistributionLoss:
        def __call__(self, input, target):
            raise NotImplementedError

    class NegativeLogLikelihood(DistributionLoss):
        """Pickles as gluonts 0.14's @validated() class does: NEWOBJ_EX with the init arguments,
        and `__init_args__` in the state, so the original package unpickles it as its own."""

        def __init__(self, beta: float = 0.0) -> None:
            self.__init_args__ = OrderedDict(beta=beta)
            self.beta = beta

        def __getnewargs_ex__(self):
            return (), self.__init_args__

    for cls in (DistributionLoss, NegativeLogLikelihood):
        cls.__module__ = LEGACY_LOSS_MODULE
        cls.__qualname__ = cls.__name__
        setattr(module, cls.__name__, cls)
    sys.modules[LEGACY_LOSS_MODULE] = module
    try:
        yield module
    finally:
        sys.modules.pop(LEGACY_LOSS_MODULE, None)


def save_published_checkpoint(path: Path, module: LagLlamaModule, epoch: int = 0) -> None:
    """A Lightning-style checkpoint as the released one is laid out (random or trained weights)."""
    import lightning

    config = module.config
    with _writable_legacy_module() as legacy:
        checkpoint = {
            "epoch": epoch,
            "global_step": 0,
            "pytorch-lightning_version": lightning.__version__,
            "state_dict": {k: v.detach().clone() for k, v in module.state_dict().items()},
            "loops": {},
            "callbacks": {},
            "optimizer_states": [],
            "lr_schedulers": [],
            "hparams_name": "kwargs",
            "hyper_parameters": {
                "model_kwargs": _model_kwargs(config),
                "context_length": config.context_length,
                "prediction_length": 1,
                "loss": legacy.NegativeLogLikelihood(beta=0.0),
                "lr": 1e-3,
                "weight_decay": 1e-8,
                "aug_prob": 0.5,
                "nonnegative_pred_samples": False,
            },
        }
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        torch.save(checkpoint, Path(path))


def write_random_init(weights_dir: Path, seed: int = 0, config: LagLlamaConfig | None = None) -> Path:
    """<weights_dir>/lagllama/{lag-llama.ckpt, weights.json} with random weights, kind 'random-init'."""
    torch.manual_seed(seed)
    module = LagLlamaModule(config or LagLlamaConfig())
    folder = Path(weights_dir) / MODEL_DIR
    ckpt = folder / CHECKPOINT_FILE
    save_published_checkpoint(ckpt, module)
    manifest = WeightsManifest(model=MODEL_DIR, kind="random-init", files={CHECKPOINT_FILE: sha256_file(ckpt)})
    (folder / "weights.json").write_text(manifest.model_dump_json(indent=2) + "\n")
    return ckpt
