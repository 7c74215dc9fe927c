"""The one compiled module (the rANS coder); everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "nodecode.bitstream._rans",
            sources=["src/nodecode/bitstream/_rans.c"],
            extra_compile_args=["-O2", "-std=c11"],
        )
    ]
)
