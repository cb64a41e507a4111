"""From a result to the publisher's portal (deep links with a stale-slot check) and what happened after.

- `deeplinks`: Deep links: from a search result to the publisher's booking portal, with a stale-slot check.
- `outcomes`: Referral outcomes: what happened after the hand-off (SPEC-NOTES, "UX problems" 3).
"""

from __future__ import annotations

from slotlinks.discovery.referrals.deeplinks import (
    REFERRAL_COOKIE,
    SlotTarget,
    add_referral_cookie,
    alternatives,
    build_deep_link,
    cookie_key,
    fhir_read_url,
    is_bookable_link,
    is_known_referral,
    is_referral_id,
    load_slot,
    new_referral_id,
    prune_referrals,
    read_referral_cookie,
    record_referral,
    still_free,
)
from slotlinks.discovery.referrals.outcomes import (
    FINAL_OUTCOMES,
    ReferralView,
    booked_locations,
    load_referrals,
    pending_referrals,
    refresh_many,
    refresh_outcome,
    refresh_pending,
)

__all__ = [
    "FINAL_OUTCOMES",
    "REFERRAL_COOKIE",
    "ReferralView",
    "SlotTarget",
    "add_referral_cookie",
    "alternatives",
    "booked_locations",
    "build_deep_link",
    "cookie_key",
    "fhir_read_url",
    "is_bookable_link",
    "is_known_referral",
    "is_referral_id",
    "load_referrals",
    "load_slot",
    "new_referral_id",
    "pending_referrals",
    "prune_referrals",
    "read_referral_cookie",
    "record_referral",
    "refresh_many",
    "refresh_outcome",
    "refresh_pending",
    "still_free",
]
