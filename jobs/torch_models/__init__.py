"""From-scratch sequence classifiers (PatchTST and the architectures compared with it).

Importing the package imports nothing heavy: `profiles` (the hyper-parameter defaults) must stay
readable by the orchestrator, which never imports torch.
"""
