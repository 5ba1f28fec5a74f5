"""Build hook: the compiled CNI plugin is built with the package, so that a node needs no C compiler.

`build_cni` compiles hubnet/node/cni/fastshim.c into hubnet/node/cni/hubnet-cni (hubnet/node/cni/fastbuild.py):
inside the wheel for `pip wheel` / `pip install`, in the source tree for `pip install -e`. Without a compiler the
build fails, unless HUBNET_CC is set and empty: then the package has no binary and the agent installs the Python
shim. The binary makes the wheel platform-specific (py3-none-<platform>); it does not depend on the Python ABI.
Everything else is in pyproject.toml.
"""

from __future__ import annotations

import os
import sys

from setuptools import Command, Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build import build

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubnet.node.cni import fastbuild  # stdlib only, from this source tree (the line above)

RELATIVE = os.path.join("hubnet", "node", "cni", fastbuild.BINARY)


class build_cni(Command):
    """Compile the CNI plugin's fast path into the package."""

    description = "compile hubnet/node/cni/fastshim.c into hubnet/node/cni/hubnet-cni"
    user_options: list[tuple[str, str | None, str]] = []

    def initialize_options(self) -> None:
        self.build_lib: str | None = None
        self.editable_mode = False

    def finalize_options(self) -> None:
        self.set_undefined_options("build_py", ("build_lib", "build_lib"))

    def _target(self) -> str:
        root = os.path.dirname(os.path.abspath(__file__)) if self.editable_mode else str(self.build_lib)
        return os.path.join(root, RELATIVE)

    def run(self) -> None:
        if fastbuild.find_compiler() is None and fastbuild.opted_out():
            print(f"build_cni: {fastbuild.COMPILER_ENV} is empty: no compiled CNI plugin in this build")
            return
        print(f"build_cni: {fastbuild.build(self._target())}")

    def get_outputs(self) -> list[str]:
        return [] if self.editable_mode else [self._target()]

    def get_output_mapping(self) -> dict[str, str]:
        return {}

    def get_source_files(self) -> list[str]:
        return [os.path.relpath(fastbuild.SOURCE, os.path.dirname(os.path.abspath(__file__)))]


class build_with_cni(build):
    sub_commands = [*build.sub_commands, ("build_cni", None)]


class NativeDistribution(Distribution):
    """Carries a native executable: built and installed as platform code (platlib, a platform wheel)."""

    def has_ext_modules(self) -> bool:
        return True


class bdist_wheel_any_python(bdist_wheel):
    """The executable does not load into Python: one wheel per platform serves every Python 3."""

    def get_tag(self) -> tuple[str, str, str]:
        return "py3", "none", super().get_tag()[2]


setup(
    distclass=NativeDistribution,
    cmdclass={"build": build_with_cni, "build_cni": build_cni, "bdist_wheel": bdist_wheel_any_python},
)
