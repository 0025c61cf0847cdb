"""The one thing pyproject.toml cannot say: the packages are every ``grader*`` package found
(so a new subpackage ships without a list to keep), plus the repository's top-level
``reference/`` and ``specs/`` mapped into the package as ``grader/_data/`` (where
grader/resources.py finds them in an installed wheel).  Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

DATA_PACKAGES = {"grader._data.reference": "reference", "grader._data.specs": "specs"}

setup(packages=find_packages(include=["grader", "grader.*"]) + list(DATA_PACKAGES),
      package_dir=DATA_PACKAGES)
