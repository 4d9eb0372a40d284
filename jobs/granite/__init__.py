"""IBM granite-tsfm models (PatchTST-FM r1, TTM r2.1) in the granite environment."""
