"""Facts about the published granite checkpoints (config.json + model.safetensors), torch-free: `orch
weights import`/`pull` on the host compare with them (orchestrator/weights.py).

Only what this project's research recorded is declared (no hub access here): PatchTST-FM r1's patch,
width and 99-quantile head (its model card), and the daily TTM r2.1 branch's context and forecast
lengths (the branch name, 90-30-ft-r2.1). No tensor counts or sha256 were recorded.
"""

from shared_schema.weights import ArchitectureFacts

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
PATCHTSTFM_FACTS = ArchitectureFacts(
    config_file=CONFIG_FILE,
    config={"model_type": "patchtst_fm", "d_patch": 16, "d_model": 1024, "num_quantile": 99},
)
TTM_FACTS = ArchitectureFacts(
    config_file=CONFIG_FILE,
    config={"model_type": "tinytimemixer", "context_length": 90, "prediction_length": 30},
)
