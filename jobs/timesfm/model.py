"""The real TimesFM 2.5 flax model from the `timesfm` package: build, load, save, run.

- `load_model(resolved)` goes through `TimesFM_2p5_200M_flax.from_pretrained(<folder>)` (the
  package's loader, Orbax `StandardCheckpointer.restore`), exactly as a Hugging Face snapshot is
  loaded. A reduced architecture (tests) is a subclass that only swaps the class-level
  `TimesFM_2p5_200M_Definition`: same module code, same parameter tree, smaller dims.
- `save_random_init(weights_dir, arch)` writes a random-initialised model in the published layout
  (Orbax checkpoint at the folder root) plus weights.json with kind 'random-init'.
- `forward(module, values, masks)` is the differentiable prefill of the package's `decode`
  (patching, running-stat RevIN, transformer stack, point/quantile head) for horizons <= one
  output patch (128 steps); fine-tuning and the linear probe use it. Zero-shot forecasts use the
  package's compiled `forecast` API.
"""

import dataclasses
import json
import math
import shutil
from pathlib import Path

from jobs.timesfm.weights import ARCH_FILE, ResolvedWeights, write_manifest


def _package():
    # Importing the package instantiates one 200M module at class level (`model: nnx.Module = ...`);
    # the job never uses that instance, so release it to save ~0.9 GB.
    from timesfm.timesfm_2p5 import timesfm_2p5_flax

    timesfm_2p5_flax.TimesFM_2p5_200M_flax.model = None  # instances set their own in __init__
    return timesfm_2p5_flax


def definition(arch: dict | None):
    """The package's TimesFM_2p5_200M_Definition, or the same class with reduced dims."""
    from timesfm import configs
    from timesfm.timesfm_2p5.timesfm_2p5_base import TimesFM_2p5_200M_Definition

    if not arch:
        return TimesFM_2p5_200M_Definition()
    d, layers, heads = int(arch["model_dims"]), int(arch["num_layers"]), int(arch["num_heads"])
    base = TimesFM_2p5_200M_Definition()
    q = len(base.quantiles) + 1
    xf = dataclasses.replace(base.stacked_transformers.transformer, model_dims=d, hidden_dims=d, num_heads=heads)
    return dataclasses.replace(
        base,
        tokenizer=dataclasses.replace(base.tokenizer, hidden_dims=d, output_dims=d),
        stacked_transformers=configs.StackedTransformersConfig(num_layers=layers, transformer=xf),
        output_projection_point=dataclasses.replace(
            base.output_projection_point, input_dims=d, hidden_dims=d, output_dims=base.output_patch_len * q
        ),
        output_projection_quantiles=dataclasses.replace(
            base.output_projection_quantiles, input_dims=d, hidden_dims=d, output_dims=base.output_quantile_len * q
        ),
    )


def wrapper_class(arch: dict | None):
    """TimesFM_2p5_200M_flax itself, or a subclass whose module uses the reduced definition."""
    pkg = _package()
    if not arch:
        return pkg.TimesFM_2p5_200M_flax
    module_cls = type(
        "TimesFM_2p5_reduced_flax_module", (pkg.TimesFM_2p5_200M_flax_module,), {"config": definition(arch)}
    )

    class TimesFM_2p5_reduced_flax(pkg.TimesFM_2p5_200M_flax):
        def __init__(self, **kwargs):
            self.model = module_cls()

    return TimesFM_2p5_reduced_flax


def load_model(resolved: ResolvedWeights):
    """The package's own loader on the local snapshot folder."""
    return wrapper_class(resolved.arch).from_pretrained(str(resolved.folder))


def count_parameters(module) -> int:
    import jax
    from flax import nnx

    return int(sum(x.size for x in jax.tree_util.tree_leaves(nnx.state(module, nnx.Param))))


def save_random_init(
    weights_dir: Path, arch: dict | None = None, overwrite: bool = False, seed: int | None = None
) -> Path:
    """A random-initialised TimesFM 2.5 in the published on-disk layout + a random-init weights.json.

    `arch` (model_dims, num_layers, num_heads) gives a reduced model of the same class; None = 200M.
    `seed` None keeps the package's own initialisation (fixed key 42); an int adds
    0.02 * N(0, 1) noise from that seed to every parameter, so checkpoints of different seeds differ.
    """
    import jax
    import orbax.checkpoint as ocp
    from flax import nnx

    folder = (Path(weights_dir) / "timesfm").resolve()
    if folder.exists():
        if not overwrite:
            raise FileExistsError(f"{folder} exists")
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    wrapper = wrapper_class(arch)()
    if seed is not None:
        params = nnx.state(wrapper.model, nnx.Param)
        leaves, treedef = jax.tree_util.tree_flatten(params)
        keys = jax.random.split(jax.random.key(seed), len(leaves))
        noisy = [x + 0.02 * jax.random.normal(k, x.shape, x.dtype) for x, k in zip(leaves, keys)]
        nnx.update(wrapper.model, jax.tree_util.tree_unflatten(treedef, noisy))
    _, state = nnx.split(wrapper.model)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(folder, state)
    checkpointer.wait_until_finished()
    if arch:
        (folder / ARCH_FILE).write_text(json.dumps(arch, sort_keys=True))
    write_manifest(folder, kind="random-init")
    return folder


def forecast_config(context_length: int, use_flip: bool = True):
    """Real context length (rounded up to the 32-step input patch), one 128-step output patch."""
    from timesfm import ForecastConfig

    return ForecastConfig(
        max_context=int(math.ceil(context_length / 32) * 32),
        max_horizon=128,
        normalize_inputs=True,
        per_core_batch_size=64,
        use_continuous_quantile_head=False,
        force_flip_invariance=use_flip,
        infer_is_positive=False,
        fix_quantile_crossing=True,
    )


def pad_left(values, patch_len: int = 32):
    """(n, L) float -> values (n, L') and masks (n, L') with L' a patch multiple, padding masked."""
    import numpy as np

    n, length = values.shape
    target = int(math.ceil(length / patch_len) * patch_len)
    pad = target - length
    vals = np.concatenate([np.zeros((n, pad), np.float32), values.astype(np.float32)], axis=1)
    masks = np.concatenate([np.ones((n, pad), bool), np.zeros((n, length), bool)], axis=1)
    return vals, masks


def forward(module, values, masks):
    """Differentiable prefill (mirrors the package's `decode` before its autoregressive loop).

    values/masks: (b, L) with L a multiple of the patch length; masked steps are padding.
    Returns (embedding of the last patch (b, d), normalised point+quantile outputs of the last
    patch (b, 128, 10), context mean (b,), context std (b,)). Channel 0 is the mean, 1..9 the
    0.1..0.9 quantiles, all in the RevIN-normalised scale: value = out * sigma + mu.
    """
    import jax.numpy as jnp
    from timesfm.flax import util

    b, length = values.shape
    p = module.p
    patched = values.reshape(b, length // p, p)
    patched_masks = masks.reshape(b, length // p, p)
    zero = jnp.zeros((b,), values.dtype)
    _, (_, mu, sigma) = util.scan_along_axis(
        lambda carry, xs: util.update_running_stats(*carry, *xs),
        init=(zero, zero, zero),
        xs=(patched, patched_masks),
        axis=1,
    )
    normed = util.revin(patched, mu, sigma, reverse=False)
    normed = jnp.where(patched_masks, 0.0, normed)
    # The module's __call__ without a decode cache (it would pass a list of Nones per layer).
    pkg = _package()
    tokens = module.tokenizer(jnp.concatenate([normed, patched_masks.astype(normed.dtype)], axis=-1))
    embeddings, _ = pkg._apply_stacked_transformers(module.stacked_xf, tokens, patched_masks[..., -1], None)
    outputs = module.output_projection_point(embeddings)
    last = outputs[:, -1, :].reshape(b, module.o, module.q)
    return embeddings[:, -1, :], last, mu[:, -1], sigma[:, -1]
