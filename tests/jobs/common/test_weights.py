"""jobs/common/weights.py: the one check of a mounted weights folder, and what a result records of it."""

import pytest

from jobs.common.errors import JobError
from jobs.common.weights import MANIFEST_FILE, verified_weights, weights_source
from shared_schema import WeightsManifest
from shared_schema.files import sha256_file


def install(root, files: dict[str, bytes], kind: str = "random-init"):
    folder = root / "demo"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    manifest = WeightsManifest(model="demo", kind=kind, files={name: sha256_file(folder / name) for name in files})
    (folder / MANIFEST_FILE).write_text(manifest.model_dump_json())
    return folder


def test_required_files_must_be_listed_and_the_source_records_the_tensor_file(tmp_path):
    folder = install(tmp_path, {"config.json": b"{}", "model.safetensors": b"tensors"})
    found, manifest = verified_weights(tmp_path, "demo", "Demo", "orch weights pull demo", ("config.json",))
    assert found == folder
    source = weights_source(manifest, "model.safetensors")
    assert source.kind == "random-init" and source.sha256 == sha256_file(folder / "model.safetensors")
    with pytest.raises(JobError, match=r"lists no model\.ckpt; run `orch weights pull demo`"):
        verified_weights(tmp_path, "demo", "Demo", "orch weights pull demo", ("config.json", "model.ckpt"))


def test_a_changed_file_is_refused_as_corrupt(tmp_path):
    folder = install(tmp_path, {"model.safetensors": b"tensors"})
    (folder / "model.safetensors").write_bytes(b"other")
    with pytest.raises(JobError, match="Demo weights corrupt"):
        verified_weights(tmp_path, "demo", "Demo", "orch weights pull demo")
