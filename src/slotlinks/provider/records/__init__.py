"""Descriptive resources (Location, Practitioner, PractitionerRole, HealthcareService, Schedule) in the provider store,
and their import.

- `importer`: Importing FHIR NDJSON into the provider store (spec "Location File", "Schedule File", "Slot File";
  2026 IG PractitionerRole, HealthcareService, Practitioner), for the admin API's `$import`.
- `npi`: National Provider Identifiers: check digits, validation and fake ones for demo data.
- `resources`: Descriptive resources in the provider store: the records layer under the admin API and the importer.
"""

from __future__ import annotations

from slotlinks.provider.records import importer, resources
from slotlinks.provider.records.npi import is_valid_npi, make_npi, npi_check_digit
from slotlinks.provider.records.resources import put_resource

__all__ = ["importer", "is_valid_npi", "make_npi", "npi_check_digit", "put_resource", "resources"]
