"""Building a publication's files where no reader can see them half-written, then putting them in
place whole: used by the versioned cache (`versions`) and the provider's static export."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["install_directory", "staged_directory"]


@contextmanager
def staged_directory(parent: Path, prefix: str) -> Iterator[Path]:
    """A new, empty directory under `parent` (created if missing) to write into; removed with its
    contents if the block fails. `install_directory` moves it into place."""
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def install_directory(staging: Path, target: Path) -> None:
    """Put `staging` at `target` by renames on one file system. An existing `target` is renamed
    aside first and removed after, so `target` is never missing nor a mix of old and new files."""
    if not target.exists():
        os.replace(staging, target)
        return
    retired = target.with_name(f".{target.name}.old-{os.getpid()}-{threading.get_ident()}")
    os.replace(target, retired)
    os.replace(staging, target)
    shutil.rmtree(retired, ignore_errors=True)
