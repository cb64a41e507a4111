"""Reading a publisher's feed into the discovery store: lenient decoding, the everyday-Slot fast path, bulk writes.

- `fastslot`: The everyday Slot, in one pass: prove it valid and derive its stored columns together.
- `load`: Writing a publisher's feed into the discovery store: rows per generation, derived search columns,
  reference resolution, and the generation flip (tables.py explains generations).
- `loadwriter`: Writing full loads into the discovery store: one writer at a time per store, and the batches that
  are waiting by then written together, in one transaction.
- `quirks`: Lenient reading of real feeds: departures from the spec that do not change meaning are normalized, each
  counted under a warning kind for the publisher's sync run.
"""

from __future__ import annotations

from slotlinks.discovery.ingest import load, quirks
from slotlinks.discovery.ingest.fastslot import clean_slot_values, plain_http_url, plain_slot_row
from slotlinks.discovery.ingest.load import TABLES, GenerationWriter, resolve_generation
from slotlinks.discovery.ingest.loadwriter import batch_writer, load_write
from slotlinks.discovery.ingest.quirks import Warnings, normalize_id, read_manifest, read_resource

__all__ = [
    "TABLES",
    "GenerationWriter",
    "Warnings",
    "batch_writer",
    "clean_slot_values",
    "load",
    "load_write",
    "normalize_id",
    "plain_http_url",
    "plain_slot_row",
    "quirks",
    "read_manifest",
    "read_resource",
    "resolve_generation",
]
