"""Tests of the shared FHIR kernel (`slotlinks.fhir`), and the helpers they share."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import settings

__all__ = ["REALWORLD", "hypothesis_settings", "realworld_dir"]


def realworld_dir() -> Path:
    """The recorded publishers' data: `$SLOTLINKS_REALWORLD`, else `<workspace>/shared/realworld`."""
    env = os.environ.get("SLOTLINKS_REALWORLD")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "realworld"


REALWORLD = realworld_dir()

#: No example database on disk (the tree is shared), no deadline (CI machines vary).
hypothesis_settings = settings(database=None, deadline=None, max_examples=200)
