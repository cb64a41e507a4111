"""Every module imports on its own, whatever is imported first.

A cycle between packages breaks only the import orders that enter it at the wrong end (a command that
imports the publication first, say), which the rest of the suite may never take. Each module here is
imported first in a fresh child of one interpreter that has loaded only the third-party libraries.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import slotlinks

_CHILDREN = textwrap.dedent(
    """
    import importlib, os, sys, traceback
    import alembic, fastapi, httpx, jinja2, msgspec, orjson, psycopg, pydantic  # shared by every child
    import rich, sqlalchemy, starlette, typer, zipcodes
    failed = []
    for name in sys.argv[1:]:
        pid = os.fork()
        if pid == 0:
            try:
                importlib.import_module(name)
            except BaseException:
                traceback.print_exc()
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if status:
            failed.append(name)
    print("\\n".join(failed))
    sys.exit(1 if failed else 0)
    """
)


def _modules() -> list[str]:
    root = Path(slotlinks.__file__).parent
    names = ["slotlinks"]
    for info in pkgutil.walk_packages([str(root)], prefix="slotlinks."):
        # Alembic scripts are loaded by alembic with its context; `__main__` runs the command line.
        if ".migrations" not in info.name and not info.name.endswith("__main__"):
            names.append(info.name)
    return names


def test_every_module_imports_first() -> None:
    modules = _modules()
    assert len(modules) > 100  # the walk found the package
    src = str(Path(slotlinks.__file__).parent.parent)
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run(
        [sys.executable, "-c", _CHILDREN, *modules], capture_output=True, text=True, env=env, timeout=240
    )
    assert done.returncode == 0, f"modules that fail when imported first:\n{done.stdout}\n{done.stderr[-4000:]}"
