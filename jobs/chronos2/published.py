"""Facts about the published Chronos-2 checkpoint (`amazon/chronos-2`: config.json and
model.safetensors), as far as this project knows them: a 120M-parameter model. Its config.json is
not held here, so only the two width/depth keys are recorded, inferred from that count (d_model 768
x 12 layers gives 119.5M parameters with the package's layer shapes; the 28M chronos-2-small is
narrower and shallower). Torch-free: `orch weights import` on the host and the job compare with these.
"""

from shared_schema.weights import ArchitectureFacts

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CONFIG = {"d_model": 768, "num_layers": 12}
FACTS = ArchitectureFacts(config_file=CONFIG_FILE, config=CONFIG)
