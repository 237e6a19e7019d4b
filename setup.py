"""The evaluation kernel's build (everything else, dependencies included, is in pyproject.toml).

``posetable.eval._kernel`` is C using only the CPython buffer protocol (no numpy headers at
build time). It is optional: without a C compiler the package installs all the same and
evaluates with the numpy engine. No contraction into fused multiply-adds and no fast-math, so
every floating-point operation rounds as numpy's does.
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
        )
    ]
)
