"""The sklearn image suite's fixtures: the shared ones of tests/images/image_suite.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from image_suite import dataset, make_spec, run_job, validate_outputs  # noqa: F401
