"""Hand-broken feeds fail the right check with the right message; a clean one passes everything."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from slotlinks.conformance import CheckResult, Report, run_validation
from tests.conformance.conftest import BOOKING, location, schedule, slot, write_feed
from tests.servers import serve_with_origin


def result(report: Report, check_id: str) -> CheckResult:
    return next(r for r in report.results if r.check.id == check_id)


def failed_ids(report: Report) -> set[str]:
    return {r.check.id for r in report.results if r.status == "failed"}


def test_clean_feed_passes_both_profiles_strictly(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed")
    for profile in ("general", "vaccine"):
        report = run_validation(str(feed), profile=profile)
        assert failed_ids(report) == set(), profile
        assert report.exit_code(strict=True) == 0


def test_relative_output_url(tmp_path: Path) -> None:
    report = run_validation(str(write_feed(tmp_path / "f", slot_url="slots.ndjson")))
    assert failed_ids(report) == {"manifest.output-url-absolute"}
    example = result(report, "manifest.output-url-absolute").examples[0]
    assert example.where == "$bulk-publish output[2]"
    assert example.message == "output url 'slots.ndjson' is not an absolute http(s) URL"
    assert report.resources["Slot"] == 1  # still read, by its last path segment
    assert report.exit_code(strict=False) == 1


def test_a_manifest_that_is_not_an_object_fails(tmp_path: Path) -> None:
    for body, found in (("null", "null"), ("[]", "Array"), ('"x"', "String")):
        site = tmp_path / found
        site.mkdir()
        (site / "$bulk-publish").write_text(body)
        report = run_validation(str(site))
        assert "manifest.download" in failed_ids(report), body
        assert found in result(report, "manifest.download").examples[0].message
        assert report.exit_code(strict=False) == 1


def test_dangling_schedule_reference(tmp_path: Path) -> None:
    report = run_validation(str(write_feed(tmp_path / "f", slots=[slot(schedule={"reference": "Schedule/nope"})])))
    assert failed_ids(report) == {"slot.schedule-resolves"}
    example = result(report, "slot.schedule-resolves").examples[0]
    assert (example.where, example.message) == (
        "slots.ndjson:1",
        "Slot/slot-1 schedule Schedule/nope is not in any Schedule file",
    )


def test_dangling_schedule_actor(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "f", schedules=[schedule(actor=[{"reference": "Location/elsewhere"}])])
    report = run_validation(str(feed))
    assert failed_ids(report) == {"schedule.actors-resolve"}
    assert (
        "actor Location/elsewhere is not a published Location"
        in result(report, "schedule.actors-resolve").examples[0].message
    )


def test_duplicate_id(tmp_path: Path) -> None:
    slots = [slot(), slot(start="2026-06-01T10:00:00-04:00", end="2026-06-01T10:20:00-04:00")]
    report = run_validation(str(write_feed(tmp_path / "f", slots=slots)))
    assert failed_ids(report) == {"resource.id-unique"}
    example = result(report, "resource.id-unique").examples[0]
    assert (example.where, example.message) == ("slots.ndjson:2", "Slot id 'slot-1' appears more than once")


def test_start_after_end(tmp_path: Path) -> None:
    slots = [slot(start="2026-06-01T10:00:00-04:00", end="2026-06-01T09:00:00-04:00")]
    report = run_validation(str(write_feed(tmp_path / "f", slots=slots)))
    assert failed_ids(report) == {"slot.start-before-end"}
    assert (
        "start 2026-06-01T10:00:00-04:00 is not before end"
        in result(report, "slot.start-before-end").examples[0].message
    )


def test_javascript_booking_link(tmp_path: Path) -> None:
    link = 'javascript:alert("<b>hi</b>")'
    slots = [slot(extension=[{"url": BOOKING, "valueUrl": link}])]
    report = run_validation(str(write_feed(tmp_path / "f", slots=slots)), profile="vaccine")
    assert failed_ids(report) == {"slot.booking-link-url", "slot.booking-phone"}
    message = result(report, "slot.booking-link-url").examples[0].message
    assert message == f"booking-deep-link {link!r} is not an absolute http(s) URL"
    assert report.exit_code(strict=False) == 1


def test_offset_not_local_nor_utc(tmp_path: Path) -> None:
    slots = [
        slot(id="a", start="2026-06-01T06:00:00-07:00", end="2026-06-01T06:20:00-07:00"),
        slot(id="b", start="2026-06-01T13:00:00+00:00", end="2026-06-01T13:20:00Z"),
        slot(id="c", start="2026-12-01T09:00:00-05:00", end="2026-12-01T09:20:00-05:00"),
        slot(id="d", start="2026-12-01T09:00:00-04:00", end="2026-12-01T09:20:00-04:00"),
    ]
    report = run_validation(str(write_feed(tmp_path / "f", slots=slots)))
    offsets = result(report, "slot.offset-plausible")
    assert [e.where for e in offsets.examples] == ["slots.ndjson:1", "slots.ndjson:4"]  # -04:00 is EDT, not December
    assert "offset is neither UTC nor local to America/New_York" in offsets.examples[0].message
    assert report.exit_code(strict=False) == 0
    assert report.exit_code(strict=True) == 1


def test_status_by_profile(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "f", slots=[slot(status="busy-tentative")])
    assert failed_ids(run_validation(str(feed), profile="general")) == set()
    vaccine = run_validation(str(feed), profile="vaccine")
    assert failed_ids(vaccine) == {"slot.status"}
    assert (
        result(vaccine, "slot.status").examples[0].message == "Slot/slot-1 status 'busy-tentative' is not busy | free"
    )


def test_vaccine_location_profile(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "f", locations=[location(identifier=[], address={"state": "VA"}, telecom=[])])
    report = run_validation(str(feed), profile="vaccine")
    # The empty `identifier` and `telecom` arrays are themselves invalid FHIR JSON, under either profile.
    assert failed_ids(report) == {
        "location.vaccine-profile",
        "location.phone-and-url",
        "location.vtrcks",
        "json.no-empty",
    }
    assert result(report, "location.vtrcks").examples[0].message == "No Locations included a VTrckS PIN."


def test_not_json_and_wrong_type_lines(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "f")
    with (feed / "slots.ndjson").open("a") as fp:
        fp.write("{not json\n")
        fp.write('{"resourceType":"Location","id":"x"}\n')
        fp.write('{"resourceType":"Slot","id":"s2","schedule":{"reference":"Schedule/sch-1"},"status":"free"}\n')
    report = run_validation(str(feed))
    assert failed_ids(report) == {"ndjson.json-object", "ndjson.resource-type", "resource.fhir-valid"}
    assert result(report, "ndjson.json-object").examples[0].where == "slots.ndjson:2"
    assert "Object missing required field `start`" in result(report, "resource.fhir-valid").examples[0].message


def test_missing_manifest(tmp_path: Path) -> None:
    report = run_validation(str(tmp_path))
    assert failed_ids(report) == {"manifest.download"}
    assert report.exit_code(strict=False) == 1
    assert result(report, "slot.status").status == "skipped"


def _static_app(directory: Path, *, cache_control: bool) -> Starlette:
    async def serve_file(request: Request) -> Response:
        path = directory / request.path_params["name"]
        if not path.is_file():
            return Response(status_code=404)
        kind = "application/json" if path.name == "$bulk-publish" else "application/fhir+ndjson"
        headers = {"Cache-Control": "max-age=60"} if cache_control else {}
        return Response(path.read_bytes(), media_type=kind, headers=headers)

    return Starlette(routes=[Route("/feed/{name}", serve_file)])


def test_missing_cache_control_on_a_tiny_live_server(tmp_path: Path) -> None:
    def make_app(origin: str) -> Starlette:
        return _static_app(write_feed(tmp_path / "site", base=f"{origin}/feed"), cache_control=False)

    with serve_with_origin(make_app) as origin:
        report = run_validation(f"{origin}/feed/$bulk-publish")
    # Also no validator at all: http.conditional (info). Everything else passes, live checks included.
    assert failed_ids(report) == {"http.cache-control", "http.conditional"}
    cache = result(report, "http.cache-control")
    assert cache.count == 4
    assert cache.examples[0].where == "$bulk-publish"
    assert cache.examples[0].message == "No `Cache-Control: max-age=<seconds>` header received"
    assert report.exit_code(strict=False) == 0
    assert report.exit_code(strict=True) == 1


def test_accept_header_mismatch_is_caught(tmp_path: Path) -> None:
    def make_app(origin: str) -> Starlette:
        directory = write_feed(tmp_path / "site", base=f"{origin}/feed")

        async def serve_file(request: Request) -> Response:
            path = directory / request.path_params["name"]
            if "accept" not in request.headers:
                return Response(b"not acceptable", status_code=406)
            return Response(path.read_bytes(), headers={"Cache-Control": "max-age=60"})

        return Starlette(routes=[Route("/feed/{name}", serve_file)])

    with serve_with_origin(make_app) as origin:
        report = run_validation(f"{origin}/feed/$bulk-publish")
    assert {"http.accept-manifest", "http.accept-files"} <= failed_ids(report)
    assert result(report, "http.accept-manifest").examples[0].message == "no Accept header: HTTP 406"
