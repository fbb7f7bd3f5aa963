"""Maps core/ and plugins/ into the ``nubis`` import namespace.

pyproject.toml holds all metadata; this file only lists the packages, because
setuptools' automatic discovery cannot rename ``core.x`` to ``nubis.core.x``.
"""

from setuptools import find_packages, setup

PACKAGE_DIRS = {"nubis.core": "core", "nubis.plugins": "plugins"}

packages = []
for name, folder in PACKAGE_DIRS.items():
    packages.append(name)
    packages.extend(f"{name}.{sub}" for sub in find_packages(folder))

setup(packages=packages)
