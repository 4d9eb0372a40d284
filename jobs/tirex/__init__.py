"""TiRex-2 (and the TiRex 1.x classifiers) in the tirex environment."""
