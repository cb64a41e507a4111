"""Descriptive resources (Location, Practitioner, PractitionerRole, HealthcareService, Schedule) in the provider store,
and their import.

- `resources`: Descriptive resources in the provider store: put (checked, stamped, regenerating what moved), get,
  list, count, deactivate; the records layer under the admin API and the importer.
- `references`: References between the resources we keep, and the check that each points at something we hold.
- `columns`: The columns kept beside each resource for publication to select on (state, time zone, location, ...).
- `importer`: Importing FHIR NDJSON into the provider store (spec "Location File", "Schedule File", "Slot File";
  2026 IG PractitionerRole, HealthcareService, Practitioner), for the admin API's `$import`.
- `npi`: National Provider Identifiers: check digits, validation and fake ones for demo data.
"""

from __future__ import annotations

from slotlinks.provider.records import importer, resources
from slotlinks.provider.records.npi import is_valid_npi, make_npi, npi_check_digit
from slotlinks.provider.records.resources import put_resource

__all__ = ["importer", "is_valid_npi", "make_npi", "npi_check_digit", "put_resource", "resources"]
