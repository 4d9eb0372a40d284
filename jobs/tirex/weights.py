"""The TiRex-2 weights cache: `<weights_dir>/tirex2/` = weights.json + the published `config.json` and
`model.safetensors` of `NX-AI/TiRex-2` (`orch weights pull tirex2`).

Loading goes through the package's own `tirex2.load_model(<folder>, device)`, the call that reads a
hub download, so a random-init checkpoint written here exercises the published code path. The
package ships no default config, so `tiny_config` writes one by hand in the published schema
(`stack_config` templates and recipe, tokenizer, scaler, quantiles): one sLSTM block and one mLSTM
block, both kinds the published model stacks, at a width that runs in seconds on a CPU.

A TiRex-2 checkpoint stores each tensor once although the model reaches it under several names
(the bidirectional blocks share their cells): `save_checkpoint` writes the first name of each alias
group, which the package's loader expands again (`tirex2._state_dict`).
"""

import json
from pathlib import Path

from jobs.common.errors import JobError
from jobs.common.weights import MANIFEST_FILE, ResolvedWeights, sha256_file, verified_weights, weights_source
from shared_schema import WeightsManifest

MODEL_DIR = "tirex2"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
PULL_COMMAND = "orch weights pull tirex2"
QUANTILE_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def resolve_weights(weights_dir: Path | None) -> ResolvedWeights:
    """The cache's config and safetensors, hash-checked; fails fast (before torch loads anything)."""
    folder, manifest = verified_weights(weights_dir, MODEL_DIR, "TiRex-2", PULL_COMMAND, (CONFIG_FILE, WEIGHTS_FILE))
    try:
        config = json.loads((folder / CONFIG_FILE).read_text())
    except ValueError as exc:
        raise JobError(f"{folder / CONFIG_FILE}: not JSON ({exc})") from exc
    if tuple(config.get("quantiles", ())) != QUANTILE_LEVELS:
        raise JobError(
            f"{folder / CONFIG_FILE}: quantiles {config.get('quantiles')} are not TiRex-2's {QUANTILE_LEVELS}"
        )
    return ResolvedWeights(folder, weights_source(manifest, WEIGHTS_FILE))


def load(resolved: ResolvedWeights, device: str):
    """The package's ForecastModel for the cached checkpoint (strict state-dict load), run eagerly:
    tirex2 wraps its ResidualBlock in `torch.compile`, which on a CPU needs a C++ compiler (the images
    have none) and recompiles at every job start; "force_eager" runs the same computation uncompiled."""
    import torch
    from tirex2 import load_model

    torch.compiler.set_stance("force_eager")

    try:
        return load_model(resolved.folder, device=device)
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise JobError(
            f"{resolved.folder}: not a loadable TiRex-2 checkpoint: {' '.join(str(exc).split())[:300]}"
        ) from exc


def tiny_config(*, width: int = 32, patch: int = 16, context_len: int = 128, future_len: int = 32) -> dict:
    """A small config in the published schema: an sLSTM block, then an mLSTM block, each followed by
    variate attention (the two block kinds of TiRex-2's stack)."""

    def template(kind: str) -> dict:
        return {
            "time_mixer": {"model_type": kind, "embedding_dim": width, "num_heads": 4},
            "variate_mixer": {"embedding_dim": width, "num_heads": 4, "use_flex_attention": False},
            "dropout": 0.0,
            "eps": 1e-6,
        }

    return {
        "stack_config": {
            "templates": {"slstm": template("bi-slstm"), "mlstm": template("bi-mlstm")},
            "recipe": ["slstm", "mlstm"],
        },
        "num_blocks": 2,
        "embedding_dim": width,
        "input_patch_size": patch,
        "output_patch_size": patch,
        "quantiles": list(QUANTILE_LEVELS),
        "tokenizer_cfg": {"output_patch_size": patch, "input_patch_size": patch, "input_patch_stride": patch},
        "scaler_cfg": {"eps": 1e-8, "use_arcsinh": True},
        "h_expand": 2.0,
        "context_len": context_len,
        "future_len": future_len,
        "input_ff_dim": 2 * width,
        "act_func": "GELU",
        "dropout": 0.0,
    }


def save_checkpoint(folder: Path, config: dict, seed: int = 0) -> Path:
    """`config.json` + `model.safetensors` of a random-initialised TiRex2, in the hub repository's layout
    (what `orch weights import tirex2 <folder>` takes)."""
    import torch
    from safetensors.torch import save_file
    from tirex2 import TiRex2
    from tirex2._state_dict import shared_tensor_groups

    torch.manual_seed(seed)
    model = TiRex2(**config, device="cpu")
    aliases = {name for group in shared_tensor_groups(model) for name in group[1:]}
    tensors = {name: t.contiguous() for name, t in model.state_dict().items() if name not in aliases}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    save_file(tensors, str(folder / WEIGHTS_FILE))
    # safetensors writes the file owner-only (0600); a checkpoint is read by a container's other uid
    (folder / WEIGHTS_FILE).chmod(0o644)
    return folder


def write_random_init(weights_dir: Path, config: dict, seed: int = 0) -> Path:
    """<weights_dir>/tirex2/ with a random-init checkpoint and its weights.json (kind 'random-init')."""
    folder = save_checkpoint(Path(weights_dir) / MODEL_DIR, config, seed)
    files = {name: sha256_file(folder / name) for name in (CONFIG_FILE, WEIGHTS_FILE)}
    manifest = WeightsManifest(model=MODEL_DIR, kind="random-init", files=files)
    (folder / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2) + "\n")
    return folder
