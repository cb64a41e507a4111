"""Tests of the shared FHIR kernel (`slotlinks.fhir`), and the helpers they share."""

from __future__ import annotations

from hypothesis import settings

from tests.conftest import REALWORLD

__all__ = ["REALWORLD", "hypothesis_settings"]

#: No example database on disk (the tree is shared), no deadline (CI machines vary).
hypothesis_settings = settings(database=None, deadline=None, max_examples=200)
