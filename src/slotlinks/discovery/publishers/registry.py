"""The publisher registry: which `$bulk-publish` endpoints this discovery client polls.

Specification, "Bulk Publication" (a publisher is known by its manifest URL) and "Publisher
Advertising" / `publisher-repository/` of smart-on-fhir/smart-scheduling-links: publishers advertise
themselves as schema.org `Service` JSON objects whose `serviceType` is
`https://github.com/smart-on-fhir/smart-scheduling-links` and whose `url` is the endpoint (in the wild
either the manifest URL or its base, to which `/$bulk-publish` is appended). `name` may be missing
(CVS writes `_brokenName!`); the provider organization's name or the host stands in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Connection, delete, func, select, update

from slotlinks.discovery.ingest.generation import TABLES
from slotlinks.discovery.ingest.partitions import drop_other_generations, partitioned
from slotlinks.discovery.publishers.freshness import PushState, push_states
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.errors import Conflict, InvalidInput, NotFound
from slotlinks.fhir.manifest import MANIFEST_NAME
from slotlinks.fhir.urls import http_url_parts

__all__ = [
    "SERVICE_TYPE",
    "ImportResult",
    "PublisherInfo",
    "add_publisher",
    "get_publisher",
    "import_repository",
    "list_publishers",
    "remove_publisher",
    "set_paused",
    "set_referral_secret",
]

SERVICE_TYPE = "https://github.com/smart-on-fhir/smart-scheduling-links"


@dataclass(frozen=True, slots=True)
class PublisherInfo:
    """A registered publisher with what its last sync found (for `publishers list` and the admin API)."""

    id: int
    url: str
    name: str
    states: list[str]
    allowed_hosts: list[str]
    paused: bool
    generation: int
    locations: int
    schedules: int
    slots: int
    last_outcome: str | None
    bad_lines: int
    warnings: int
    warning_kinds: dict[str, int]
    last_attempt_ms: int | None
    last_success_ms: int | None
    next_poll_ms: int
    last_error: str | None
    referral_secret_set: bool = False  # the secret itself is never shown
    referral_portal: str | None = None
    push: PushState = field(default_factory=lambda: PushState("none"))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "name": self.name,
            "states": self.states,
            "allowHosts": self.allowed_hosts,
            "paused": self.paused,
            "counts": {"Location": self.locations, "Schedule": self.schedules, "Slot": self.slots},
            "lastOutcome": self.last_outcome,
            "badLines": self.bad_lines,
            "warnings": self.warnings,
            "warningKinds": self.warning_kinds,
            "lastAttemptMs": self.last_attempt_ms,
            "lastSuccessMs": self.last_success_ms,
            "nextPollMs": self.next_poll_ms,
            "lastError": self.last_error,
            "referralSecretSet": self.referral_secret_set,
            "referralPortal": self.referral_portal,
            "push": self.push.to_json(),
        }


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: list[PublisherInfo]
    skipped: list[str]  # why each entry was not added


def _clean_list(values: Any, *, upper: bool = False) -> list[str]:
    if isinstance(values, str):
        values = values.split(",")
    out = []
    for v in values or ():
        text = str(v).strip()
        if text:
            out.append(text.upper() if upper else text.lower())
    return sorted(set(out))


def _check_url(url: str) -> str:
    url = url.strip()
    parts = http_url_parts(url)
    if parts is None:
        raise InvalidInput(f"publisher URL {url!r} is not an absolute http(s) URL", expression=["url"])
    if parts.fragment or "@" in parts.netloc:
        raise InvalidInput(f"publisher URL {url!r} must not carry a fragment or credentials", expression=["url"])
    return url


def _count(conn: Connection, table: Any, publisher_id: int, generation: int) -> int:
    c = table.c
    query = select(func.count()).select_from(table).where(c.publisher_id == publisher_id, c.generation == generation)
    return int(conn.execute(query).scalar_one())


def _info(conn: Connection, row: Any, pushes: dict[int, PushState]) -> PublisherInfo:
    run = conn.execute(
        select(t.sync_run).where(t.sync_run.c.publisher_id == row.id).order_by(t.sync_run.c.id.desc()).limit(1)
    ).first()
    return PublisherInfo(
        id=row.id,
        url=row.url,
        name=row.name,
        states=_clean_list(row.states, upper=True),
        allowed_hosts=_clean_list(row.allowed_hosts),
        paused=bool(row.paused),
        generation=row.generation,
        locations=_count(conn, TABLES["Location"], row.id, row.generation),
        schedules=_count(conn, TABLES["Schedule"], row.id, row.generation),
        slots=_count(conn, TABLES["Slot"], row.id, row.generation),
        last_outcome=run.outcome if run else None,
        bad_lines=run.bad_lines if run else 0,
        warnings=run.warnings if run else 0,
        warning_kinds=orjson.loads(run.warning_kinds) if run else {},
        last_attempt_ms=row.last_attempt_ms,
        last_success_ms=row.last_success_ms,
        next_poll_ms=row.next_poll_ms,
        last_error=row.last_error,
        referral_secret_set=bool(row.referral_secret),
        referral_portal=row.referral_portal,
        push=pushes.get(row.id, PushState("none")),
    )


def get_publisher(store: DiscoveryStore, publisher_id: int) -> PublisherInfo:
    with store.read() as conn:
        row = conn.execute(select(t.publisher).where(t.publisher.c.id == publisher_id)).first()
        if row is None:
            raise NotFound(f"no publisher with id {publisher_id}")
        return _info(conn, row, push_states(conn))


def list_publishers(store: DiscoveryStore) -> list[PublisherInfo]:
    """Every publisher, with the counts held in its current generation and its last run's figures."""
    with store.read() as conn:
        pushes = push_states(conn)
        return [_info(conn, row, pushes) for row in conn.execute(select(t.publisher).order_by(t.publisher.c.id))]


def add_publisher(
    store: DiscoveryStore,
    *,
    url: str,
    name: str,
    states: Any = (),
    allowed_hosts: Any = (),
) -> PublisherInfo:
    """Register a publisher by its `$bulk-publish` URL; `Conflict` if that URL is already registered."""
    url = _check_url(url)
    name = name.strip() or (urlsplit(url).hostname or url)
    with store.write() as conn:
        if conn.execute(select(t.publisher.c.id).where(t.publisher.c.url == url)).first() is not None:
            raise Conflict(f"a publisher with URL {url} is already registered", expression=["url"])
        new_id = conn.execute(
            t.publisher.insert()
            .values(
                url=url,
                name=name,
                states=",".join(_clean_list(states, upper=True)),
                allowed_hosts=",".join(_clean_list(allowed_hosts)),
                paused=False,
                created_ms=store.now_ms(),
                generation=0,
                next_poll_ms=0,
                failures=0,
            )
            .returning(t.publisher.c.id)
        ).scalar_one()
    return get_publisher(store, int(new_id))


def set_paused(store: DiscoveryStore, publisher_id: int, paused: bool) -> PublisherInfo:
    """Pause (no more polling; data kept) or resume (polled at the next pass) a publisher."""
    with store.write() as conn:
        values: dict[str, Any] = {"paused": paused}
        if not paused:
            values["next_poll_ms"] = 0
        done = conn.execute(update(t.publisher).where(t.publisher.c.id == publisher_id).values(**values))
        if not done.rowcount:
            raise NotFound(f"no publisher with id {publisher_id}")
    return get_publisher(store, publisher_id)


MIN_REFERRAL_SECRET = 16


def set_referral_secret(
    store: DiscoveryStore, publisher_id: int, secret: str | None, *, portal: str | None = None
) -> PublisherInfo:
    """Store the secret this deployment registered with the publisher's booking portal (16+ characters;
    None forgets it), and optionally the portal's origin when it is not the booking links' own."""
    if secret is not None:
        secret = secret.strip()
        if len(secret) < MIN_REFERRAL_SECRET or any(c.isspace() or not c.isprintable() for c in secret):
            raise InvalidInput(
                f"the referral secret must be at least {MIN_REFERRAL_SECRET} printable characters without spaces",
                expression=["secret"],
            )
    origin: str | None = None
    if portal:
        parts = http_url_parts(portal.strip())
        if parts is None or "@" in parts.netloc:
            raise InvalidInput(f"portal {portal!r} is not an absolute http(s) URL", expression=["portal"])
        if parts.query or parts.fragment:
            raise InvalidInput(f"portal {portal!r} must not carry a query or fragment", expression=["portal"])
        origin = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    with store.write() as conn:
        done = conn.execute(
            update(t.publisher)
            .where(t.publisher.c.id == publisher_id)
            .values(referral_secret=secret, referral_portal=origin)
        )
        if not done.rowcount:
            raise NotFound(f"no publisher with id {publisher_id}")
    return get_publisher(store, publisher_id)


def remove_publisher(store: DiscoveryStore, publisher_id: int) -> None:
    """Forget a publisher and all its data, runs and bad lines (on PostgreSQL its Slots' partitions
    too: nothing else removes them, as no foreign key ties them to the publisher)."""
    with store.write() as conn:
        by_partition = partitioned(conn)
        for table in (*TABLES.values(), t.bad_line, t.sync_run):
            if not (by_partition and table is t.slot):
                conn.execute(delete(table).where(table.c.publisher_id == publisher_id))
        done = conn.execute(delete(t.publisher).where(t.publisher.c.id == publisher_id))
        if not done.rowcount:
            raise NotFound(f"no publisher with id {publisher_id}")
        if by_partition:
            drop_other_generations(conn, publisher_id, keep=-1, lock_timeout=None)


def _entries(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("publishers"), list):
        return list(data["publishers"])
    return [data]


def _manifest_url(url: str) -> str:
    base = url.split("?", 1)[0].split("#", 1)[0]
    return url if base.endswith(MANIFEST_NAME) else base.rstrip("/") + "/" + MANIFEST_NAME


def import_repository(store: DiscoveryStore, data: bytes | Any, *, states: Any = ()) -> ImportResult:
    """Register every SMART Scheduling Links `Service` in a publisher-repository document (one object,
    an array of them, or `{"publishers": [...]}`); entries of other service types, without a URL, or
    already registered are skipped with the reason."""
    if isinstance(data, bytes | str):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"the publisher list is not JSON: {exc}") from exc
    added: list[PublisherInfo] = []
    skipped: list[str] = []
    for i, entry in enumerate(_entries(data)):
        if not isinstance(entry, dict):
            skipped.append(f"[{i}]: not a JSON object")
            continue
        service_types = entry.get("serviceType")
        service_types = service_types if isinstance(service_types, list) else [service_types]
        if SERVICE_TYPE not in service_types:
            skipped.append(f"[{i}]: serviceType is not {SERVICE_TYPE}")
            continue
        url = entry.get("url")
        if not isinstance(url, str) or not url.strip():
            skipped.append(f"[{i}]: no url")
            continue
        provider = entry.get("provider")
        name = entry.get("name") or (provider.get("name") if isinstance(provider, dict) else None) or ""
        try:
            added.append(add_publisher(store, url=_manifest_url(url.strip()), name=str(name), states=states))
        except (Conflict, InvalidInput) as exc:
            skipped.append(f"[{i}]: {exc.message}")
    return ImportResult(added, skipped)
