"""Only here to tag the wheel as platform-specific when it ships libhrnet.so (copy the library to
hrnet/libhrnet.so before building the wheel); all metadata is in pyproject.toml."""

import pathlib

from setuptools import setup
from setuptools.dist import Distribution

BUNDLED = (pathlib.Path(__file__).resolve().parent / "hrnet" / "libhrnet.so").is_file()


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return BUNDLED


setup(distclass=BinaryDistribution)
