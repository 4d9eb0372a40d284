"""From-scratch sequence classifiers (PatchTST and the architectures compared with it); their
hyper-parameters are declared in jobs/catalog.py."""
