"""Build time only: compile the plugin's fast path (`fastshim.c`) into `hubnet-cni` beside it.

Run by the package build (setup.py's `build_cni` step: the wheel carries the binary, `pip install -e` puts it in
the source tree) and by tests — never by the agent or the plugin, so a node needs no C compiler. The binary holds
no paths: it reads the agent's socket from the network config and finds its Python fallback next to itself.
The per-pod process is on every pod's critical path: a static C binary starts in well under 1 ms, the Python
shim's interpreter in ~7 ms.
"""

from __future__ import annotations

import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "fastshim.c")
BINARY = "hubnet-cni"  # the compiled plugin's name inside the package (hubnet/node/cni/hubnet-cni)
FLAGS = ("-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror")
COMPILER_ENV = "HUBNET_CC"  # a compiler to use instead of `cc`/`gcc` from PATH; empty: build without the binary


class BuildError(Exception):
    """The compiled plugin could not be built (no compiler, or the compile failed)."""


def find_compiler() -> str | None:
    wanted = os.environ.get(COMPILER_ENV)
    if wanted is not None:
        return shutil.which(wanted) if wanted else None
    return shutil.which("cc") or shutil.which("gcc")


def opted_out() -> bool:
    """`HUBNET_CC=` (set and empty): build the package without the compiled plugin, on purpose."""
    return os.environ.get(COMPILER_ENV) == ""


def build(target: str, cc: str | None = None) -> str:
    """Compile SOURCE to `target` (static when libc.a is there: no dynamic loader at start-up); BuildError if not."""
    cc = cc or find_compiler()
    if cc is None:
        raise BuildError(
            "no C compiler (cc/gcc) to build the compiled CNI plugin: install one (Debian: gcc libc6-dev), "
            f"or set {COMPILER_ENV}= (empty) to build without it (nodes then run the ~7 ms slower Python shim)"
        )
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    tmp = f"{target}.tmp{os.getpid()}"
    errors = ""
    try:
        for static in (["-static"], []):
            cmd = [cc, *FLAGS, *static, "-o", tmp, SOURCE]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                errors = str(exc)
                continue
            if proc.returncode == 0:
                os.chmod(tmp, 0o755)
                os.replace(tmp, target)
                return target
            errors = proc.stderr.strip()[-2000:]
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    raise BuildError(f"compiling {SOURCE} with {cc} failed: {errors}")


if __name__ == "__main__":  # after editing fastshim.c in a checkout: python -m hubnet.node.cni.fastbuild
    print(build(os.path.join(HERE, BINARY)))
