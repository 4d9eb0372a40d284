"""Architecture and checkpoint compatibility with the published Lag-Llama release."""

import dataclasses
import json
import pickle
import sys
import types

import pytest
import torch
from lagllama_helpers import FIXTURES

from jobs.common.errors import JobError
from jobs.lagllama.checkpoint import (
    LEGACY_LOSS_MODULE,
    PULL_COMMAND,
    load_module,
    read_checkpoint,
    resolve_weights,
    save_published_checkpoint,
    sha256_file,
    write_random_init,
)
from jobs.lagllama.config import LagLlamaConfig, default_lags
from jobs.lagllama.model import LagLlamaModule, count_parameters
from shared_schema import WeightsManifest

PARAMS = json.loads((FIXTURES / "params.json").read_text())


def test_state_dict_names_and_shapes_equal_the_published_checkpoint():
    module = LagLlamaModule(LagLlamaConfig())
    shapes = {name: list(t.shape) for name, t in module.state_dict().items()}
    assert shapes == PARAMS
    assert len(shapes) == 73
    assert count_parameters(module) == 2_449_299 == sum(torch.Size(s).numel() for s in PARAMS.values())


def test_lags_from_gluonts_equal_the_published_lags():
    lags = list(default_lags())
    assert lags == json.loads((FIXTURES / "lags_seq.json").read_text())
    config = LagLlamaConfig()
    assert (len(lags), config.max_lag, config.history_length, config.feature_size) == (84, 1092, 1124, 92)


def test_config_is_frozen_and_validates():
    config = LagLlamaConfig()
    assert (config.context_length, config.n_layer, config.n_head, config.n_embd_per_head, config.time_feat) == (
        32,
        8,
        9,
        16,
        True,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.n_layer = 2  # type: ignore[misc]
    for bad in (
        {"n_layer": 0},
        {"n_embd_per_head": 15},
        {"lags_seq": (3, 1)},
        {"scaling": "minmax"},
        {"distr_output": "normal"},
        {"context_length": True},
        {"dropout": 1.0},
    ):
        with pytest.raises(ValueError):
            LagLlamaConfig(**bad)


def _fake_published_checkpoint(path):
    """Written the way the release was: Lightning dict, names/shapes from the fixture, random values,
    hyper_parameters pickling objects of a module named gluonts.torch.modules.loss."""
    from gluonts.torch.distributions import StudentTOutput

    assert LEGACY_LOSS_MODULE not in sys.modules
    legacy = types.ModuleType(LEGACY_LOSS_MODULE)

    class NegativeLogLikelihood:
        def __init__(self, beta=0.0):
            self.beta = beta

    NegativeLogLikelihood.__module__ = LEGACY_LOSS_MODULE
    NegativeLogLikelihood.__qualname__ = "NegativeLogLikelihood"
    legacy.NegativeLogLikelihood = NegativeLogLikelihood
    sys.modules[LEGACY_LOSS_MODULE] = legacy
    try:
        generator = torch.Generator().manual_seed(7)
        state = {name: torch.randn(shape, generator=generator) for name, shape in PARAMS.items()}
        torch.save(
            {
                "epoch": 3,
                "global_step": 150,
                "pytorch-lightning_version": "2.2.1",
                "state_dict": state,
                "loops": {},
                "callbacks": {},
                "optimizer_states": [],
                "lr_schedulers": [],
                "hyper_parameters": {
                    "model_kwargs": {
                        "context_length": 32,
                        "max_context_length": 2048,
                        "scaling": "robust",
                        "input_size": 1,
                        "n_layer": 8,
                        "n_embd_per_head": 16,
                        "n_head": 9,
                        "lags_seq": json.loads((FIXTURES / "lags_seq.json").read_text()),
                        "distr_output": StudentTOutput(),
                        "num_parallel_samples": 100,
                        "rope_scaling": None,
                        "time_feat": True,
                        "dropout": 0.0,
                    },
                    "context_length": 32,
                    "prediction_length": 1,
                    "loss": NegativeLogLikelihood(beta=0.0),
                    "lr": 1e-3,
                },
            },
            path,
        )
    finally:
        del sys.modules[LEGACY_LOSS_MODULE]
    return state


def test_published_format_loads_strictly_only_through_the_shim(tmp_path):
    path = tmp_path / "lag-llama.ckpt"
    state = _fake_published_checkpoint(path)
    # the fake is faithful: current GluonTS cannot resolve the loss module, new torch refuses objects
    with pytest.raises(ModuleNotFoundError, match="gluonts.torch.modules.loss"):
        torch.load(path, map_location="cpu", weights_only=False)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, map_location="cpu")
    module, checkpoint = load_module(path)
    assert LEGACY_LOSS_MODULE not in sys.modules  # the shim is gone afterwards
    loaded = module.state_dict()
    assert set(loaded) == set(state)
    assert all(torch.equal(loaded[name], state[name]) for name in state)
    loss = checkpoint["hyper_parameters"]["loss"]
    assert type(loss).__module__ == LEGACY_LOSS_MODULE and type(loss).__name__ == "NegativeLogLikelihood"
    assert loss.beta == 0.0
    assert module.config == LagLlamaConfig()


def test_written_loss_pickles_like_gluonts_validated_classes(tmp_path):
    """gluonts 0.14's @validated() loss pickles through __getnewargs_ex__ (at torch.save's pickle
    protocol 2: functools.partial(cls.__new__, cls, beta=...)) with `__init_args__` in its state;
    the checkpoints written here do the same under the same class path, so the original package
    rebuilds its own class."""
    import pickletools
    import zipfile

    path = tmp_path / "lag-llama.ckpt"
    save_published_checkpoint(path, LagLlamaModule(LagLlamaConfig(n_layer=1)))
    with zipfile.ZipFile(path) as archive:
        data = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
    globals_ = {arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}
    assert {"functools partial", f"{LEGACY_LOSS_MODULE} NegativeLogLikelihood"} <= globals_
    loss = read_checkpoint(path)["hyper_parameters"]["loss"]
    assert dict(loss.__init_args__) == {"beta": 0.0} and loss.beta == 0.0


def test_strict_load_rejects_a_checkpoint_that_does_not_fit(tmp_path):
    torch.manual_seed(0)
    module = LagLlamaModule(LagLlamaConfig())
    path = tmp_path / "bad.ckpt"
    save_published_checkpoint(path, module)
    checkpoint = read_checkpoint(path)
    del checkpoint["state_dict"]["model.transformer.ln_f.scale"]
    checkpoint["state_dict"]["model.extra.weight"] = torch.zeros(1)
    torch.save({"state_dict": checkpoint["state_dict"]}, path)
    with pytest.raises(JobError, match="ln_f.scale"):
        load_module(path, LagLlamaConfig())


def test_missing_weights_name_the_pull_command(tmp_path):
    for weights_dir in (None, tmp_path):
        with pytest.raises(JobError, match="orch weights pull lag-llama"):
            resolve_weights(weights_dir)
    assert PULL_COMMAND == "orch weights pull lag-llama"


def test_weights_manifest_is_verified_and_reported(tmp_path):
    ckpt = write_random_init(tmp_path, seed=1)
    path, manifest, source = resolve_weights(tmp_path)
    assert path == ckpt and manifest.kind == "random-init"
    assert source.kind == "random-init" and source.sha256 == sha256_file(ckpt)
    # a pretrained manifest is reported with hub id, revision and the checkpoint's sha256
    pretrained = WeightsManifest(
        model="lagllama",
        kind="pretrained",
        hub_id="time-series-foundation-models/Lag-Llama",
        revision="abc123",
        files={"lag-llama.ckpt": sha256_file(ckpt)},
    )
    (tmp_path / "lagllama" / "weights.json").write_text(pretrained.model_dump_json())
    _, _, source = resolve_weights(tmp_path)
    assert (source.kind, source.hub_id, source.revision, source.sha256) == (
        "pretrained",
        "time-series-foundation-models/Lag-Llama",
        "abc123",
        sha256_file(ckpt),
    )
    # a corrupted file fails fast
    with open(ckpt, "ab") as handle:
        handle.write(b"x")
    with pytest.raises(JobError, match="sha256"):
        resolve_weights(tmp_path)
