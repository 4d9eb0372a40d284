"""The TiRex 1.x weights cache: `<weights_dir>/tirexcls/` = weights.json + the published `model.ckpt` of
`NX-AI/TiRex` (`orch weights pull tirexcls`), a Lightning checkpoint that tirex-ts reads with
`torch.load(weights_only=True)`.

What the wheel (tirex-ts 1.4.2) tells about the published checkpoint: a dict with `hyper_parameters`
= {`model_config`: {input_patch_size, output_patch_size (equal), quantiles, block_kwargs (sLSTM
embedding_dim, num_heads, num_blocks, ffn_proj_factor), input_ff_dim}, `train_ctx_len`} and
`state_dict` (block tensors possibly under `block_stack.`, which the loader renames); only torch's own
globals (weights_only). Unknown here, since the hub is unreachable and the wheel ships no config: the
patch size, train_ctx_len, width, head and block counts, the quantile levels and the parameter count
(~35M per the research). So orchestrator/weights.py declares no facts for it (an import installs as
custom), and the job checks what the package's code needs: a TiRex model that loads strictly.

Loading goes through the package's own loader class: `load_model(path)` picks the class from the
first two components of `path` as a hub id ("NX-AI/TiRex" -> "TiRex"), so any absolute local path is
refused ("Invalid model id"); the job takes the class the same registry lookup gives
(`PretrainedModel.REGISTRY["TiRex"]`) and calls its `from_pretrained(<model.ckpt>)`, the method
`load_model` itself calls for a local path (tests/images/tirex/test_tirexcls_embedding.py shows both).
"""

from dataclasses import dataclass
from pathlib import Path

from jobs.common.errors import JobError
from jobs.common.weights import MANIFEST_FILE, sha256_file, verified_weights, weights_source
from shared_schema import WeightsManifest, WeightsSource

MODEL_DIR = "tirexcls"
CHECKPOINT_FILE = "model.ckpt"
PULL_COMMAND = "orch weights pull tirexcls"
REGISTERED_NAME = "TiRex"  # what load_model reads from "NX-AI/TiRex"
QUANTILE_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class ResolvedWeights:
    checkpoint: Path
    source: WeightsSource


def resolve_weights(weights_dir: Path | None) -> ResolvedWeights:
    """The cache's model.ckpt, hash-checked; fails fast (before torch loads anything)."""
    folder, manifest = verified_weights(weights_dir, MODEL_DIR, "TiRex", PULL_COMMAND, (CHECKPOINT_FILE,))
    return ResolvedWeights(folder / CHECKPOINT_FILE, weights_source(manifest, CHECKPOINT_FILE))


def load(resolved: ResolvedWeights, device: str):
    """The package's TiRexZero for the cached checkpoint (strict state-dict load, torch backend)."""
    from tirex.base import PretrainedModel

    model_class = PretrainedModel.REGISTRY[REGISTERED_NAME]
    try:
        model = model_class.from_pretrained(str(resolved.checkpoint), backend="torch", device=device)
    except (RuntimeError, KeyError, TypeError, ValueError, AssertionError) as exc:
        raise JobError(
            f"{resolved.checkpoint}: not a loadable TiRex checkpoint: {' '.join(str(exc).split())[:300]}"
        ) from exc
    return model.eval()


def tiny_hyper_parameters(*, width: int = 32, heads: int = 4, blocks: int = 2, patch: int = 16) -> dict:
    """A small `hyper_parameters` in the published schema: `blocks` sLSTM blocks at `width`, a
    context of 128 days (the package pads the 80-day windows to it, as it pads to the published one)."""
    return {
        "model_config": {
            "input_patch_size": patch,
            "output_patch_size": patch,
            "quantiles": list(QUANTILE_LEVELS),
            "block_kwargs": {
                "embedding_dim": width,
                "num_heads": heads,
                "num_blocks": blocks,
                "ffn_proj_factor": 2.6667,
            },
            "input_ff_dim": 2 * width,
        },
        "train_ctx_len": 128,
    }


def save_checkpoint(path: Path, hyper_parameters: dict, seed: int = 0) -> Path:
    """A random-initialised TiRexZero built from the package's own config classes, saved as a
    Lightning-style `model.ckpt` (hyper_parameters + state_dict, block tensors under `block_stack.`
    as the package's loader expects of the published file)."""
    import torch
    from tirex.models.tirex import TiRexZero

    torch.manual_seed(seed)
    model = TiRexZero(backend="torch", **hyper_parameters)
    for parameter in model.parameters():  # sLSTM tensors are torch.empty until a checkpoint fills them
        if parameter.dim() > 1:
            torch.nn.init.normal_(parameter, std=0.2)
        else:
            torch.nn.init.normal_(parameter, std=0.05)
    state = {
        (f"block_stack.{name}" if name.startswith("blocks.") else name): tensor.contiguous()
        for name, tensor in model.state_dict().items()
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"hyper_parameters": hyper_parameters, "state_dict": state, "epoch": 0, "global_step": 0}, path)
    path.chmod(0o644)  # read by a container's other uid
    return path


def write_random_init(weights_dir: Path, hyper_parameters: dict, seed: int = 0) -> Path:
    """<weights_dir>/tirexcls/ with a random-init model.ckpt and its weights.json (kind 'random-init')."""
    folder = Path(weights_dir) / MODEL_DIR
    save_checkpoint(folder / CHECKPOINT_FILE, hyper_parameters, seed)
    manifest = WeightsManifest(
        model=MODEL_DIR, kind="random-init", files={CHECKPOINT_FILE: sha256_file(folder / CHECKPOINT_FILE)}
    )
    (folder / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2) + "\n")
    return folder


if __name__ == "__main__":  # python -m jobs.tirex.tirexcls_weights FILE: an importable random-init model.ckpt
    import sys

    print(save_checkpoint(Path(sys.argv[1]), tiny_hyper_parameters()))
