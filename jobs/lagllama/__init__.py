"""Lag-Llama (univariate probabilistic foundation model) on current GluonTS building blocks.

Modules
  config.py      released hyper-parameters (frozen, validated); lags from GluonTS get_lags_for_frequency
  model.py       LLaMA-style decoder (RMSNorm, rotary, causal attention, SwiGLU) + GluonTS Student-t
                 head; state_dict names/shapes equal the published Lightning checkpoint (73 tensors)
  features.py    robust scaling (median / IQR), lag tokens, GluonTS time features (frequency 'S')
  data.py        the forecast series and per-window histories
  sampling.py    autoregressive sample paths (KV cache or not) and P(hit)
  finetune.py    NLL fine-tuning with early stopping on validation NLL
  checkpoint.py  offline loading of the published checkpoint (legacy-module shim), weights cache
  job.py         the job entry point, registered as "lagllama" in env "gluonts"

Decisions
  Series: the daily HIGH (hyper-parameter series='log-high' forecasts log HIGH instead). The target
    max(High[t+1..t+H]) >= (1 + threshold) * Close_t is then a function of the forecast path; Close_t
    is only the barrier. Rows are trading days taken as consecutive steps; time features come from
    the real dates (future dates t+1.. as business days after t, calendar only).
  Probability: num_samples (default 100) joint paths are drawn autoregressively, each sampled
    value fed back as the next token, so the H3 maximum respects the dependence between days;
    P = the fraction of paths whose maximum reaches the barrier. Samples are Student-t quantiles of
    pre-drawn uniforms, so a seed fixes the paths whatever the computation order.
  History: a forecast needs context_length + 1092 values. Rows before the series starts are padded
    with the first value and marked unobserved (ignored by the scaler); on the bundled data this only
    concerns 1999-2003 training rows. Fine-tuning uses only windows with the full history when any
    exist. The context grows by the fed-back tokens (32 + H - 1 positions at most).
  KV cache: a window's prompt is run once and its keys/values are shared by all its sample paths
    (grouped attention, no copies); each decode step runs one token per path.
"""
