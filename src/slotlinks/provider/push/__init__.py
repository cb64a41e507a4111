"""Push on the provider: FHIR Subscriptions to the "availability changed" topic
(`slotlinks.subscriptions`), over the provider store.

- `changes`: The provider's change log read as events of the "availability changed" topic.
- `store`: The provider's subscriptions and their events, over its own database.
"""

from __future__ import annotations

from slotlinks.provider.push.changes import Change, changes_between, expiries_between
from slotlinks.provider.push.store import ProviderPushStore

__all__ = ["Change", "ProviderPushStore", "changes_between", "expiries_between"]
