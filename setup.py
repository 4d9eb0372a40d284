"""Only what pyproject.toml cannot say: a wheel carries the job environments' build inputs.

images/ sits at the top of a checkout, outside every package, so package-data cannot reach it. A
non-editable install copies the Dockerfile and each env's pinned requirements into
orchestrator/job_assets/images/, where orchestrator.paths.IMAGES_DIR looks when the code is not a
checkout. An editable install reads the checkout's images/ directly.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

JOB_ASSETS = ["images/Dockerfile", *sorted(p.as_posix() for p in Path("images").glob("*/requirements.txt"))]


class BuildWithJobAssets(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for asset in JOB_ASSETS:
            target = Path(self.build_lib) / "orchestrator" / "job_assets" / asset
            self.mkpath(str(target.parent))
            self.copy_file(asset, str(target))


setup(cmdclass={"build_py": BuildWithJobAssets})
