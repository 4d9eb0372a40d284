"""Width and depth from a target parameter count, so 'PatchTST 2M' and 'Crossformer 2M' are
compared at equal size. Counts come from meta-device models: a 200M config costs no memory.

Depth steps with the target; the model width then grows on a grid of multiples of 16 with a
feed-forward of about 4x the width, and the feed-forward width (parameters are affine in it)
is solved last to land on the target. Models without a feed-forward (DLinear) solve their width.
"""

import dataclasses
import math

from jobs.torch_models.zoo import Architecture

TOLERANCE = 0.10
WIDTH_STEP = 16
MAX_WIDTH_STEPS = 512  # d_model up to 8192
DEPTH_BY_SIZE = ((1_000_000, 2), (10_000_000, 3), (100_000_000, 4))
DEEPEST = 6
FF_RATIO = 4


def depth_for(target: int) -> int:
    return next((depth for limit, depth in DEPTH_BY_SIZE if target <= limit), DEEPEST)


def heads_for(d_model: int) -> int:
    """Head width stays between 16 and 128 from 64 to 2048-wide models."""
    return 4 if d_model < 256 else 8 if d_model < 1024 else 16


def sized_config(architecture: Architecture, target: int, **settings):
    """The architecture's config with its size fields chosen to be within TOLERANCE of target."""
    if target < 1:
        raise ValueError(f"size must be a positive parameter count, got {target}")
    names = {f.name for f in dataclasses.fields(architecture.config)}
    count = architecture.count_parameters
    if "d_ff" not in names:
        config = _solve_width(architecture, target, settings)
    else:
        depth = depth_for(target)

        def shaped(d_model: int, d_ff: int):
            heads = {"n_heads": heads_for(d_model)} if "n_heads" in names else {}
            return architecture.make_config(**settings, d_model=d_model, d_ff=d_ff, n_layers=depth, **heads)

        # Largest grid width whose 4x feed-forward stays under the target (counts grow with width).
        low, high = 1, MAX_WIDTH_STEPS
        while low < high:
            middle = (low + high + 1) // 2
            d = middle * WIDTH_STEP
            low, high = (middle, high) if count(shaped(d, FF_RATIO * d)) <= target else (low, middle - 1)
        candidates = [_solve_ff(count, shaped, step * WIDTH_STEP, target) for step in (low, low + 1)]
        config = min(candidates, key=lambda c: abs(math.log(c.d_ff / (FF_RATIO * c.d_model))))
    actual = count(config)
    if abs(actual - target) > TOLERANCE * target:
        raise ValueError(
            f"{architecture.model.__name__} cannot be sized to {target:,} parameters (nearest: {actual:,}); "
            f"its smallest or largest shape is further away than {TOLERANCE:.0%}"
        )
    return config


def _solve_ff(count, shaped, d_model: int, target: int):
    """Parameters are affine in d_ff: two counts give the line, and the line gives d_ff."""
    at_one, at_two = count(shaped(d_model, d_model)), count(shaped(d_model, 2 * d_model))
    slope = (at_two - at_one) / d_model
    return shaped(d_model, max(1, round(d_model + (target - at_one) / slope)))


def _solve_width(architecture: Architecture, target: int, settings: dict):
    """For models whose only size knob is d_model and whose count is affine in it."""

    def shaped(d_model: int):
        return architecture.make_config(**settings, d_model=d_model)

    at_one, at_two = (
        architecture.count_parameters(shaped(WIDTH_STEP)),
        architecture.count_parameters(shaped(2 * WIDTH_STEP)),
    )
    slope = (at_two - at_one) / WIDTH_STEP
    return shaped(max(1, round(WIDTH_STEP + (target - at_one) / slope)))
