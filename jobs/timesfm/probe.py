"""The linear probe ('linear-probe' mode): frozen TimesFM; the output embedding of the last input
patch is the representation; a logistic head is fitted on training labels for each L2 strength in
`probe_l2` and the strength with the lowest validation log loss is kept."""

import time

import numpy as np

from jobs.common.probe import linear_probe, require_both_classes
from jobs.timesfm.data import SplitSeries, recent
from jobs.timesfm.runner import Runner
from jobs.timesfm.settings import Settings


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, *, steps: int, seed: int) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression, full-batch Adam in JAX. Returns (w, b)."""
    import jax
    import jax.numpy as jnp
    import optax

    xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)

    def loss(params):
        w, b = params
        logits = xj @ w + b
        return optax.sigmoid_binary_cross_entropy(logits, yj).mean() + 0.5 * l2 * jnp.sum(w * w)

    optimizer = optax.adam(0.05)
    params = (
        jnp.zeros(x.shape[1], jnp.float32),
        jnp.asarray(np.log((y.mean() + 1e-3) / (1 - y.mean() + 1e-3)), jnp.float32),
    )
    state = optimizer.init(params)

    @jax.jit
    def step(params, state):
        grads = jax.grad(loss)(params)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    for _ in range(steps):
        params, state = step(params, state)
    return np.asarray(params[0], np.float64), float(params[1])


def probe(runner: Runner, series: dict[str, SplitSeries], settings: Settings, seed: int):
    """The output embedding of the last input patch -> logistic head (jobs.common.probe.linear_probe)."""
    train = recent(series["train"], settings.max_train_windows)
    require_both_classes(train.y, "the linear probe")
    chosen = {"train": train, "val": series["val"], "test": series["test"]}
    test_seconds: list[float] = []

    def embed(name: str) -> np.ndarray:
        started = time.perf_counter()
        embeddings = runner.embeddings(chosen[name])
        if name == "test":  # the test split is embedded only after selection: that is its prediction time
            test_seconds.append(time.perf_counter() - started)
        return embeddings

    probs, choice = linear_probe(
        embed=embed,
        train_y=train.y,
        val_y=series["val"].y,
        strengths=settings.probe_l2,
        fit=lambda x, y, l2: fit_logistic(x, y.astype(np.float64), l2, steps=settings.probe_steps, seed=seed),
    )
    info = {
        "probe_l2": choice.l2,
        "probe_val_log_loss": choice.val_log_loss,
        "probe_features": int(choice.weights.size),
        "representation": "output embedding of the last input patch",
    }
    return probs, len(train.y), info, test_seconds[0]
