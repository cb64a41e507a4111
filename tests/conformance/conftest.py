"""Conformance fixtures: the recorded corpora (staged as directories and served live by
serve_corpus.py), small hand-written feeds, and a Typer app around `validate_command`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from slotlinks.conformance.cli_validate import validate_command

BOOKING = "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link"
PHONE = "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-phone"
FEED_BASE = "https://feeds.example.org/clinic"

#: What each corpus README lists (check id -> count), under `--profile vaccine`.
EXPECTED: dict[str, dict[str, int]] = {
    "cvs": {
        "schedule.vaccine-service-type": 1,
        "extension.value-type": 2,
        "manifest.state-extension": 3,
        "slot.narrow-window": 2,
        "slot.booking-phone": 2,
    },
    "walgreens": {
        "manifest.state-extension": 2,
        "slot.narrow-window": 1,
        "manifest.output-extension-keys": 1,
        "location.vtrcks-pin-format": 1,
        "slot.longer-than-day": 1,
    },
    "smart-examples": {
        "manifest.state-extension": 2,
        "slot.narrow-window": 300,
        "ndjson.final-newline": 7,
    },
}


@pytest.fixture(scope="session")
def corpus_urls() -> Iterator[dict[str, str]]:
    """serve_corpus.py on a free loopback port: corpus name -> manifest URL."""
    from tests.conftest import REALWORLD

    script = REALWORLD / "serve_corpus.py"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(REALWORLD), "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    urls: dict[str, str] = {}
    deadline = time.monotonic() + 20
    while len(urls) < len(EXPECTED) and time.monotonic() < deadline:
        line = proc.stdout.readline().strip()
        if not line and proc.poll() is not None:
            break
        if line.endswith("$bulk-publish"):
            urls[line.rsplit("/", 2)[-2]] = line
    try:
        assert set(urls) == set(EXPECTED), f"serve_corpus.py did not start: {urls}"
        yield urls
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


@pytest.fixture
def staged_corpus(realworld: Path, tmp_path: Path) -> Callable[[str], Path]:
    """A corpus copied to a directory with `{BASE}` made absolute, as a static export would be."""

    def stage(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(realworld / name, target)
        manifest = target / "$bulk-publish"
        manifest.write_text(manifest.read_text().replace("{BASE}", f"https://static.example.org/{name}"))
        return target

    return stage


def location(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Location",
        "id": "loc-1",
        "name": "Clinic <Alexandria>",
        "telecom": [
            {"system": "phone", "value": "703-555-0100"},
            {"system": "url", "value": "https://clinic.example.org"},
        ],
        "address": {"line": ["1 Main St"], "city": "Alexandria", "state": "VA", "postalCode": "22306"},
        "identifier": [{"system": "https://cdc.gov/vaccines/programs/vtrcks", "value": "CV1002004"}],
    }
    resource.update(changes)
    return resource


def schedule(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Schedule",
        "id": "sch-1",
        "actor": [{"reference": "Location/loc-1"}],
        "serviceType": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/service-type", "code": "57"},
                    {
                        "system": "http://fhir-registry.smarthealthit.org/CodeSystem/service-type",
                        "code": "covid19-immunization",
                    },
                ]
            }
        ],
    }
    resource.update(changes)
    return resource


def slot(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Slot",
        "id": "slot-1",
        "schedule": {"reference": "Schedule/sch-1"},
        "status": "free",
        "start": "2026-06-01T09:00:00-04:00",
        "end": "2026-06-01T09:20:00-04:00",
        "extension": [
            {"url": BOOKING, "valueUrl": "https://clinic.example.org/book/slot-1"},
            {"url": PHONE, "valueString": "703-555-0100"},
        ],
    }
    resource.update(changes)
    return resource


def write_feed(
    directory: Path,
    *,
    locations: list[dict[str, Any]] | None = None,
    schedules: list[dict[str, Any]] | None = None,
    slots: list[dict[str, Any]] | None = None,
    base: str = FEED_BASE,
    slot_url: str | None = None,
) -> Path:
    """A small conformant feed (both profiles, --strict) unless the arguments break it."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "Location": ("locations.ndjson", [location()] if locations is None else locations),
        "Schedule": ("schedules.ndjson", [schedule()] if schedules is None else schedules),
        "Slot": ("slots.ndjson", [slot()] if slots is None else slots),
    }
    outputs = []
    for rtype, (name, resources) in files.items():
        (directory / name).write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in resources))
        url = slot_url if rtype == "Slot" and slot_url is not None else f"{base}/{name}"
        outputs.append({"type": rtype, "url": url, "extension": {"state": ["VA"]}})
    manifest = {
        "transactionTime": "2026-05-30T12:00:00Z",
        "request": f"{base}/$bulk-publish",
        "output": outputs,
        "error": [],
    }
    (directory / "$bulk-publish").write_text(json.dumps(manifest, indent=2))
    return directory


@pytest.fixture
def cli_app() -> typer.Typer:
    """A one-command Typer app around `validate_command`, as the lead wires it."""
    app = typer.Typer()
    app.command("validate")(validate_command)

    @app.callback()
    def main() -> None:
        """Keep `validate` a subcommand, as in `slotlinks validate`."""

    return app


# --- a feed of all six 2026 resource types, each carrying every element the profiles constrain ---

NPI = "http://hl7.org/fhir/sid/us-npi"
ACCEPTING_PATIENTS = "http://terminology.hl7.org/CodeSystem/accepting-patients"


def _concept(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}]}


def full_resources() -> dict[str, list[dict[str, Any]]]:
    """One resource of each type, conforming to the 2026 draft's profiles and to `--strict`, with
    every element a cardinality or binding rule reads (so each can be broken in place)."""
    phone = {"system": "phone", "value": "703-555-0100", "use": "work"}
    hours = {"daysOfWeek": ["mon", "tue"], "availableStartTime": "09:00:00", "availableEndTime": "17:00:00"}
    address = {
        "use": "work",
        "type": "physical",
        "line": ["1 Main St"],
        "city": "Alexandria",
        "state": "VA",
        "postalCode": "22306",
    }
    npi = {"use": "official", "system": NPI, "value": "1234567893"}
    resources = {
        "Location": [
            location(
                status="active",
                mode="instance",
                identifier=[{"use": "official", "system": "https://clinic.example.org/sites", "value": "1"}],
                telecom=[phone, {"system": "url", "value": "https://clinic.example.org", "use": "work"}],
                address=address,
                hoursOfOperation=[{"daysOfWeek": ["mon"], "openingTime": "09:00:00", "closingTime": "17:00:00"}],
            )
        ],
        "HealthcareService": [
            {
                "resourceType": "HealthcareService",
                "id": "hs-1",
                "identifier": [{"use": "usual", "system": "https://clinic.example.org/services", "value": "pc"}],
                "active": True,
                "category": [_concept("394814009", "General practice")],
                "type": [_concept("308335008", "Patient encounter procedure")],
                "specialty": [_concept("394814009", "General practice")],
                "location": [{"reference": "Location/loc-1"}],
                "name": "Primary care",
                "telecom": [phone],
                "serviceProvisionCode": [_concept("cost", "Fees apply")],
                "appointmentRequired": True,
                "availableTime": [hours],
                "notAvailable": [{"description": "Closed on holidays", "during": {"start": "2026-12-25"}}],
            }
        ],
        "PractitionerRole": [
            {
                "resourceType": "PractitionerRole",
                "id": "role-1",
                "identifier": [npi],
                "practitioner": {"reference": "Practitioner/prac-1", "display": "Dr Ana Ng"},
                "location": [{"reference": "Location/loc-1"}],
                "healthcareService": [{"reference": "HealthcareService/hs-1"}],
                "telecom": [phone],
                "availableTime": [hours],
            }
        ],
        "Practitioner": [
            {
                "resourceType": "Practitioner",
                "id": "prac-1",
                "identifier": [npi],
                "name": [{"use": "official", "family": "Ng", "given": ["Ana"]}],
                "telecom": [phone],
                "address": [address],
                "gender": "female",
            }
        ],
        "Schedule": [
            schedule(
                identifier=[{"use": "usual", "system": "https://clinic.example.org/schedules", "value": "1"}],
                actor=[
                    {"reference": "Location/loc-1", "display": "Clinic"},
                    {"reference": "PractitionerRole/role-1", "display": "Dr Ana Ng"},
                ],
            )
        ],
        "Slot": [
            slot(
                identifier=[{"use": "usual", "system": "https://clinic.example.org/slots", "value": "1"}],
                appointmentType={"coding": [{"system": ACCEPTING_PATIENTS, "code": "newpt"}]},
            )
        ],
    }
    copied: dict[str, list[dict[str, Any]]] = json.loads(json.dumps(resources))  # nothing shared: tests edit
    return copied


def write_full_feed(directory: Path, resources: dict[str, list[dict[str, Any]]]) -> Path:
    """A directory export of `resources` (type -> resources), one file per type."""
    directory.mkdir(parents=True, exist_ok=True)
    outputs = []
    for rtype, items in resources.items():
        name = f"{rtype.lower()}.ndjson"
        (directory / name).write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in items))
        outputs.append({"type": rtype, "url": f"{FEED_BASE}/{name}", "extension": {"state": ["VA"]}})
    manifest = {
        "transactionTime": "2026-05-30T12:00:00Z",
        "request": f"{FEED_BASE}/$bulk-publish",
        "output": outputs,
        "error": [],
    }
    (directory / "$bulk-publish").write_text(json.dumps(manifest, indent=2))
    return directory
