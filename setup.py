"""The C extensions' build (everything else, dependencies included, is in pyproject.toml).

``posetable.eval._kernel`` (the evaluation's hot loops) and ``posetable.eval._jsonscan`` (COCO
files straight into columns) are C using only the CPython API and buffer protocol (no numpy
headers at build time). Both are optional: without a C compiler the package installs all the
same, evaluates with the numpy engine and reads files with the Python readers. No
contraction into fused multiply-adds and no fast-math, so every floating-point operation
rounds as numpy's does.
"""

import sys

from setuptools import Extension, setup

if sys.platform == "win32":
    FLAGS = ["/O2", "/fp:precise"]
else:
    FLAGS = ["-O3", "-ffp-contract=off", "-fno-fast-math"]

setup(
    ext_modules=[
        Extension(
            "posetable.eval._kernel",
            sources=["src/posetable/eval/_kernel.c"],
            extra_compile_args=FLAGS,
            optional=True,
        ),
        Extension(
            "posetable.eval._jsonscan",
            sources=["src/posetable/eval/_jsonscan.c"],
            extra_compile_args=FLAGS,
            optional=True,
        ),
    ]
)
