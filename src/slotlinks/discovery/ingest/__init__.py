"""Reading a publisher's feed into the discovery store: lenient decoding, the everyday-Slot fast path,
rows per generation, batched writes, resolving and flipping a finished load.

The path of one NDJSON line through a full load, module by module (the sync engine, sync/poll.py,
drives it; sync/fetcher.py hands over the downloaded lines, numbered, a chunk at a time):

1. `generation`: `GenerationWriter.add_lines` takes the chunk's lines.
2. `fastslot`: an everyday Slot line becomes its row in one pass (`plain_slot_row`); every other line
   takes the full route:
3. `quirks`: `read_resource` decodes it strictly, else repairs what does not change its meaning (each
   repair counted as a warning) and decodes again; a line that still fails is a bad line, recorded.
4. `slots` (a Slot, `slot_tuple`) or `descriptive` (Location, Practitioner, PractitionerRole,
   HealthcareService, Schedule): the row that stores it, with its derived search columns
   (`generation.row_for` chooses).
5. `loadwriter`: every `BATCH_ROWS` rows the batch goes to the engine's `LoadWriter`, which writes it
   in a worker thread while the next is read (`GenerationWriter.write`; Slots through
   `slots.insert_slots_sqlite` on SQLite), together with the waiting batches of other loads.
6. `resolve`: once every file is read, references become our own keys (`resolve_generation`), the
   changes are counted (`diff_generations`), and `flip_generation` makes the new generation the one
   searches see; the old one is deleted.

An incremental (`_since`) load keeps its lines' resources in an `incremental.Spool` and applies them
to the current generation in one transaction (`incremental.apply_incremental`).

- `audience`: Who a slot is for, read from what any publisher says: a Slot's patient status, its
  Schedule's services' referral requirement and age range, its practitioners' languages.
- `checkpoint`: SQLite checkpoints in a thread of their own while loads write.
- `descriptive`: The descriptive resources: what search needs from a Location, Practitioner,
  PractitionerRole, HealthcareService and Schedule, derived at ingest as columns of its row.
- `fastslot`: The everyday Slot, in one pass: prove it valid and derive its stored columns together.
- `generation`: Rows of one generation: the row that stores each resource, and a full load's rows
  buffered and written in batches.
- `incremental`: An incremental load: the resources of a `_since` answer, applied to the current
  generation in one transaction.
- `loadwriter`: Writing full loads into the discovery store: one writer at a time, and the batches
  that are waiting by then written together, in one transaction.
- `quirks`: Lenient reading of real feeds: departures from the spec that do not change meaning are
  normalized, each counted under a warning kind for the publisher's sync run.
- `resolve`: Resolving a finished full load, then making it current: references turned into our own
  keys, changes counted against the generation it replaces, and the flip.
- `slots`: The Slot path: the stored row of a Slot, and inserting a batch of them.
"""

from __future__ import annotations

from slotlinks.discovery.ingest.fastslot import clean_slot_values, plain_http_url, plain_slot_row
from slotlinks.discovery.ingest.generation import BATCH_ROWS, TABLES, GenerationWriter, LineReader, row_for
from slotlinks.discovery.ingest.incremental import Spool, apply_incremental
from slotlinks.discovery.ingest.loadwriter import LoadWriter
from slotlinks.discovery.ingest.quirks import Warnings, normalize_id, read_manifest, read_resource
from slotlinks.discovery.ingest.resolve import (
    ChangeCounts,
    carry_unchanged_stamps,
    diff_generations,
    discard_other_generations,
    flip_generation,
    resolve_generation,
)
from slotlinks.discovery.ingest.slots import slot_tuple

__all__ = [
    "BATCH_ROWS",
    "TABLES",
    "ChangeCounts",
    "GenerationWriter",
    "LineReader",
    "LoadWriter",
    "Spool",
    "Warnings",
    "apply_incremental",
    "carry_unchanged_stamps",
    "clean_slot_values",
    "diff_generations",
    "discard_other_generations",
    "flip_generation",
    "normalize_id",
    "plain_http_url",
    "plain_slot_row",
    "read_manifest",
    "read_resource",
    "resolve_generation",
    "row_for",
    "slot_tuple",
]
