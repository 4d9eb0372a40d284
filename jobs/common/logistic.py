"""An L2-penalised logistic regression in NumPy, for jobs whose stack has no convenient fitter of its
own (the `fit` that jobs.common.probe.linear_probe takes).

Newton's method on the penalised log loss, in float64: the objective is strictly convex (l2 > 0), so
Newton converges to the unique optimum in a handful of steps for the few hundred features a probe
reads; a step that would raise the loss is halved until it does not. The intercept is not penalised.
"""

import numpy as np

MAX_STEPS = 100
GRADIENT_TOLERANCE = 1e-10
COLUMN_BLOCK = 8192  # columns of a wide x widened to float64 at once (fit_wide_logistic)


def _loss(x1: np.ndarray, y: np.ndarray, theta: np.ndarray, penalty: np.ndarray) -> float:
    z = x1 @ theta
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * np.sum(penalty * theta**2))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """(weights, bias) minimising mean log loss + l2/2 * |weights|^2 on features x (n, d), labels y (n,)."""
    if l2 <= 0:
        raise ValueError("l2 must be > 0 (it makes the optimum unique)")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = x.shape
    x1 = np.hstack([x, np.ones((n, 1))])
    penalty = np.append(np.full(d, float(l2)), 0.0)
    theta = np.zeros(d + 1)
    loss = _loss(x1, y, theta, penalty)
    for _ in range(MAX_STEPS):
        p = 0.5 * (1.0 + np.tanh(0.5 * (x1 @ theta)))
        gradient = x1.T @ (p - y) / n + penalty * theta
        if np.max(np.abs(gradient)) < GRADIENT_TOLERANCE:
            break
        hessian = (x1.T * (p * (1 - p) / n)) @ x1 + np.diag(penalty) + 1e-12 * np.eye(d + 1)
        step = np.linalg.solve(hessian, gradient)
        size = 1.0
        while size > 1e-8:
            candidate = theta - size * step
            candidate_loss = _loss(x1, y, candidate, penalty)
            if candidate_loss <= loss:
                theta, loss = candidate, candidate_loss
                break
            size /= 2
        else:
            break
    return theta[:d], float(theta[d])


def _kernel_loss(kernel, y, alpha, bias, l2) -> float:
    z = kernel @ alpha + bias
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * alpha @ kernel @ alpha)


def _column_blocks(x: np.ndarray):
    """x's columns, COLUMN_BLOCK at a time, in float64: a float32 x is widened a block at a time, never whole."""
    for start in range(0, x.shape[1], COLUMN_BLOCK):
        yield np.asarray(x[:, start : start + COLUMN_BLOCK], dtype=np.float64)


def _gram(x: np.ndarray) -> np.ndarray:
    """x x^T in float64, summed over column blocks."""
    kernel = np.zeros((x.shape[0], x.shape[0]))
    for block in _column_blocks(x):
        kernel += block @ block.T
    return kernel


def _transposed_product(x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """x^T u in float64, a column block at a time."""
    return np.concatenate([block.T @ u for block in _column_blocks(x)])


def fit_wide_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """fit_logistic's optimum (mean log loss + l2/2 |w|^2, intercept free) where
    features outnumber rows: the optimum's w lies in the span of the rows (w = x^T a), so Newton runs on
    (a, bias) with the n x n kernel x x^T instead of a d x d Hessian. Fewer features than rows: the primal.
    The arithmetic is float64 throughout, but x (e.g. float32 embeddings with 300k features a row) is
    read a column block at a time rather than copied whole to float64."""
    y = np.asarray(y, dtype=np.float64)
    n, d = x.shape
    if d <= n:
        return fit_logistic(x, y, l2)
    if l2 <= 0:
        raise ValueError("l2 must be > 0 (it makes the optimum unique)")
    kernel = _gram(x)
    alpha, bias = np.zeros(n), 0.0
    loss = _kernel_loss(kernel, y, alpha, bias, l2)
    ones = np.ones(n)
    for _ in range(MAX_STEPS):
        p = 0.5 * (1.0 + np.tanh(0.5 * (kernel @ alpha + bias)))
        residual = (p - y) / n
        weight = p * (1 - p) / n
        # gradient in w = x^T (residual + l2 a); in the bias: sum(residual)
        u = residual + l2 * alpha
        if max(np.max(np.abs(_transposed_product(x, u))), abs(residual.sum())) < GRADIENT_TOLERANCE:
            break
        # Newton's system divided through by the kernel (it spans the same row space)
        system = np.zeros((n + 1, n + 1))
        system[:n, :n] = weight[:, None] * kernel + l2 * np.eye(n)
        system[:n, n] = weight
        system[n, :n] = (weight * ones) @ kernel
        system[n, n] = weight.sum()
        step = np.linalg.solve(system, np.append(u, residual.sum()))
        size = 1.0
        while size > 1e-8:
            candidate_alpha, candidate_bias = alpha - size * step[:n], bias - size * step[n]
            candidate_loss = _kernel_loss(kernel, y, candidate_alpha, candidate_bias, l2)
            if candidate_loss <= loss:
                alpha, bias, loss = candidate_alpha, candidate_bias, candidate_loss
                break
            size /= 2
        else:
            break
    return _transposed_product(x, alpha), float(bias)
