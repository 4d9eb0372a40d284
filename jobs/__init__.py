"""Code that runs inside an environment (container or venv): one sub-package per model family."""
