"""The TiRex 1.x classifier's embedding, as the job calls it, puts nothing in float64 on its device: the
frozen model runs on the `meta` device (the same non-CPU paths as MPS) under tests/images/device_audit.py
(a float64 tensor on the device fails the test), both ways of embedding the padded context, with the
package's data augmentation. The head is NumPy on the CPU (jobs.common.probe): the audit then checks that
the features reaching it are float32, read back from the device before any widening.

What this covers: the package's TiRexEmbedding methods (`_embed_per_variate`, `process_embedding`,
`_generate_stats_features` on the CPU input) and the job's SharedPaddingPrefix. The checkpoint is loaded
as for the CPU (the package's loader), then moved to meta; the package sends its inputs to the device of
the model's parameters."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/images: the shared audit

from device_audit import DeviceAudit

from jobs.tirex.tirexcls_job import Embedder, TrainStatistics, features, package_embedding, use_float32_products
from jobs.tirex.tirexcls_weights import load, resolve_weights

META = torch.device("meta")


@pytest.mark.parametrize(
    ("padding_prefix", "float32_products"), [("per-series", False), ("shared", False), ("shared", True)]
)
def test_tirexcls_embedding_has_no_float64_on_the_device(padding_prefix, float32_products, tirexcls_weights):
    model = load(resolve_weights(tirexcls_weights), "cpu").to(META)
    if float32_products:  # the quick profile's slstm_products = "float32"
        assert use_float32_products(model) > 0
    windows = torch.randn(6, 25, 80, generator=torch.Generator().manual_seed(5)).cumsum(-1).numpy()
    embed = Embedder(package_embedding(model, data_augmentation=True, batch_size=4, padding_prefix=padding_prefix))
    with DeviceAudit() as audit:
        embedded = embed(windows)
    # read back to the CPU as float32 (meta's values are the audit's stand-ins); statistics are CPU-side
    assert embedded.embedding.dtype == np.float32 and embedded.embedding.shape == (6, 25 * 2 * 32 * 2)
    assert features(embedded, TrainStatistics.fit(embedded.statistics)).dtype == np.float32
    # the block stack ran on the device (inside the package's inference-mode call, products arrive undecomposed)
    assert {"aten.mm", "aten.bmm", "aten.linear", "aten.matmul"} & audit.ops
