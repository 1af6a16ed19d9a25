"""Packaging shim: ship the top-level device_models/ inside the wheel.

All metadata lives in pyproject.toml. setuptools' find() cannot map a package to
a directory of another name, so the device models are copied into the build tree
as ``amssim/_device_models`` here.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPy(build_py):
    def run(self):
        super().run()
        if not self.editable_mode:
            dest = Path(self.build_lib) / "amssim" / "_device_models"
            dest.mkdir(parents=True, exist_ok=True)
            for f in sorted((HERE / "device_models").glob("*")):
                if f.suffix in (".toml", ".md"):
                    shutil.copy2(f, dest / f.name)


setup(cmdclass={"build_py": BuildPy})
