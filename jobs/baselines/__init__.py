"""Classical baselines (scikit-learn) on the same samples as the deep models."""
