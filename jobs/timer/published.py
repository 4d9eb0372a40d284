"""Facts about the published Timer checkpoint (`thuml/timer-base-84m`: config.json and
model.safetensors): its config's architecture keys and the size of its state dict (116 tensors,
84,142,080 parameters). Torch-free: `orch weights import` on the host and the job compare with these.
"""

from shared_schema.weights import ArchitectureFacts

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CONFIG = {
    "input_token_len": 96,
    "hidden_size": 1024,
    "intermediate_size": 2048,
    "output_token_lens": [96],
    "num_hidden_layers": 8,
    "num_attention_heads": 8,
}
FACTS = ArchitectureFacts(
    config_file=CONFIG_FILE,
    config=CONFIG,
    checkpoint_file=WEIGHTS_FILE,
    tensor_count=116,
    parameters=84_142_080,
)
