"""Timer job hyper-parameters per profile. Pure data (no torch import): the orchestrator reads it.

mode                'zero-shot' | 'fine-tune' | 'linear-probe'
lookback_patches    input patches of 96 days the model reads before t (7 = 672 days; the
                    published model was pre-trained on up to 30 patches)
max_steps, batch_size, lr, eval_every, patience
                    fine-tune: AdamW steps on the published next-patch MSE over training
                    segments; validation MSE every `eval_every` steps, stop after `patience`
                    evaluations without improvement, best weights restored
max_train_windows   most recent training samples used to calibrate the point score into P(hit)
                    and to fit the linear probe (0 = all)
max_val_segments    validation segments for the fine-tuning loss (0 = all)
probe_l2            L2 strengths tried for the linear probe; the best validation log loss wins
predict_batch_size  windows per forward pass (does not change results)
"""

FULL: dict[str, object] = {
    "mode": "fine-tune",
    "lookback_patches": 7,
    "max_steps": 2000,
    "batch_size": 32,
    "lr": 1e-5,
    "eval_every": 100,
    "patience": 5,
    "max_train_windows": 0,
    "max_val_segments": 0,
    "probe_l2": [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
    "predict_batch_size": 64,
}
QUICK: dict[str, object] = {
    **FULL,
    "lookback_patches": 3,
    "max_steps": 20,
    "batch_size": 8,
    "eval_every": 10,
    "patience": 1,
    "max_train_windows": 512,
    "max_val_segments": 64,
    "probe_l2": [1e-2, 1.0],
}
