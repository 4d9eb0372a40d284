"""TimesFM 2.5 (flax, JAX) jobs: zero-shot, fine-tuned and linear-probe threshold probabilities."""
