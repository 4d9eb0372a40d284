"""Random-init TimesFM 2.5 in the published checkpoint layout, loaded through the package's loader."""

import json
import shutil

import numpy as np
import pytest
from conftest import SMALL_ARCH

from jobs.common.errors import JobError
from jobs.timesfm import model as tfm_model
from jobs.timesfm.weights import ARCH_FILE, MANIFEST_FILE, checkpoint_digest, resolve_weights
from shared_schema import WeightsManifest


def test_random_init_checkpoint_has_the_published_orbax_layout(small_weights):
    folder = small_weights / "timesfm"
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    # The HF repo google/timesfm-2.5-200m-flax is an Orbax StandardCheckpointer dir at its root.
    for required in ("manifest.ocdbt", "_METADATA", "_CHECKPOINT_METADATA", MANIFEST_FILE, ARCH_FILE):
        assert required in names
    assert any(n.startswith("d/") for n in names) and any(n.startswith("ocdbt.process_0/") for n in names)
    manifest = WeightsManifest.model_validate_json((folder / MANIFEST_FILE).read_text())
    assert manifest.kind == "random-init" and manifest.model == "timesfm"
    assert set(manifest.files) == names - {MANIFEST_FILE}


def test_package_loader_restores_exactly_the_saved_parameters(small_weights):
    import jax
    import orbax.checkpoint as ocp
    from flax import nnx
    from timesfm.timesfm_2p5.timesfm_2p5_flax import TimesFM_2p5_200M_flax

    resolved = resolve_weights(small_weights)
    assert resolved.source.kind == "random-init" and resolved.arch == SMALL_ARCH
    assert resolved.source.sha256 == checkpoint_digest(dict(resolved.manifest.files))
    wrapper = tfm_model.load_model(resolved)
    assert isinstance(wrapper, TimesFM_2p5_200M_flax)
    loaded = jax.tree_util.tree_leaves(nnx.state(wrapper.model, nnx.Param))
    on_disk = jax.tree_util.tree_leaves(ocp.StandardCheckpointer().restore(resolved.folder))
    fresh = jax.tree_util.tree_leaves(nnx.state(tfm_model.wrapper_class(SMALL_ARCH)().model, nnx.Param))
    assert len(loaded) == len(on_disk) == len(fresh) > 20
    for a, b in zip(loaded, on_disk):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # seed=1 noise was added before saving: the load really replaced the fresh initialisation
    assert any(not np.array_equal(np.asarray(a), np.asarray(c)) for a, c in zip(loaded, fresh))


def test_tampered_file_is_refused(small_weights, tmp_path):
    copy = tmp_path / "w"
    shutil.copytree(small_weights, copy)
    victim = next(p for p in sorted((copy / "timesfm" / "d").rglob("*")) if p.is_file())
    victim.write_bytes(victim.read_bytes() + b"x")
    with pytest.raises(JobError, match="corrupt"):
        resolve_weights(copy)


def test_missing_weights_fail_fast_with_the_pull_command(tmp_path):
    for weights_dir in (None, tmp_path):
        with pytest.raises(JobError, match="orch weights pull timesfm"):
            resolve_weights(weights_dir)


def test_pretrained_manifest_is_reported_with_hub_identity(small_weights, tmp_path):
    """A manifest that says pretrained is believed only for the published architecture: with the
    reduced model's arch file it is refused; without it, the hub identity reaches the result."""
    copy = tmp_path / "w"
    shutil.copytree(small_weights, copy)
    path = copy / "timesfm" / MANIFEST_FILE
    data = json.loads(path.read_text())
    data.update(kind="pretrained", hub_id="google/timesfm-2.5-200m-flax", revision="abc123")
    path.write_text(json.dumps(data))
    with pytest.raises(JobError, match="describes another architecture"):
        resolve_weights(copy)
    (copy / "timesfm" / ARCH_FILE).unlink()
    del data["files"][ARCH_FILE]
    path.write_text(json.dumps(data))
    source = resolve_weights(copy).source
    assert (source.kind, source.hub_id, source.revision) == ("pretrained", "google/timesfm-2.5-200m-flax", "abc123")
    assert source.sha256 == checkpoint_digest(data["files"])


def test_real_200m_random_init_saves_loads_and_forecasts(tmp_path):
    """The one test at the published size (~231M parameters): save, hash, load, forward."""
    import jax.numpy as jnp

    tfm_model.save_random_init(tmp_path, None)
    resolved = resolve_weights(tmp_path)
    assert resolved.arch is None and ARCH_FILE not in resolved.manifest.files
    wrapper = tfm_model.load_model(resolved)
    assert 220e6 < tfm_model.count_parameters(wrapper.model) < 240e6
    # the reduced test model is the same architecture class: identical parameter tree, smaller dims
    from flax import nnx

    def tree(module):
        return {path: leaf.shape for path, leaf in nnx.to_flat_state(nnx.state(module, nnx.Param))}

    full, small = tree(wrapper.model), tree(tfm_model.wrapper_class(SMALL_ARCH)().model)
    assert set(full) == set(small) and len(full) > 20
    tokenizer_kernel = next(p for p in full if {"tokenizer", "hidden_layer", "kernel"} <= set(map(str, p)))
    assert full[tokenizer_kernel] == (64, 1280) and small[tokenizer_kernel] == (64, 64)
    values, masks = tfm_model.pad_left(np.cumsum(np.random.default_rng(0).normal(size=(2, 80)), axis=1))
    embedding, out, mu, sigma = tfm_model.forward(wrapper.model, jnp.asarray(values), jnp.asarray(masks))
    assert embedding.shape == (2, 1280) and out.shape == (2, 128, 10) and np.isfinite(np.asarray(out)).all()
    shutil.rmtree(tmp_path / "timesfm")
