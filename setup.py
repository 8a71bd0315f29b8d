"""Package discovery (the metadata and dependencies are in setup.cfg).

Every package under kaudio/ is found automatically; the bundled specs (top-level specs/) and the
pretrained-weights manifest (top-level pretrained/) install as kaudio._specs and
kaudio._pretrained (mapped in setup.cfg's package_dir).
"""
from setuptools import find_packages, setup

setup(packages=find_packages(include=["kaudio", "kaudio.*"]) + ["kaudio._specs", "kaudio._pretrained"])
