"""E-mail alerts, "tell me when a time opens": a patient's search kept with their address (double
opt-in), and one message within seconds of a matching time opening at any publisher.

- `criteria`: An alert request: the patient's address and a search, parsed once from the API's JSON or
  the results page's form.
- `links`: The links an alert's messages carry: confirm and unsubscribe, each signed for one alert.
- `mailer`: Sending e-mail over SMTP with the standard library, as the `--smtp-url` asks.
- `matcher`: Which open times an alert has not told its patient about yet.
- `messages`: The alerts' two messages, as plain text e-mail: "please confirm" and "times opened".
- `routes`: `POST /api/alerts`, the results page's form, and the confirm and unsubscribe links.
- `service`: The alerts' use cases: ask for one (and send its confirmation), confirm it, cancel it.
- `store`: The alerts' SQL: an alert row per address and criteria, and the slots each has announced.
- `worker`: The alert worker: when the discovery side learns of changed slots, each confirmed alert
  with news gets one message, at most one per period.
- `apps`: Apps that create alerts for their users and hear of matches by webhook (registration,
  their keys, their alerts).
- `webhooks`: Posting an app's alert news to its webhook, signed, retried with backoff.
- `app_routes`: `PUT|GET|DELETE /admin/apps/{name}` and `DELETE /api/alerts/{id}` for an app.
- `catcher`: A local SMTP catcher for the demo: every message it takes becomes an `.eml` file.
- `earlier`: Earlier-time offers: an alert bound to a booked referral, whose news are times before the
  booked one at the same place for the same service, ending when the booking is cancelled.
- `offer_routes`: `POST /alerts/earlier`, the "Tell me if an earlier time opens" form on "my referrals".
- `offer_text`: The earlier-time offer's words: its confirmation, its news and what its pages say.

The app factory builds the `AlertWorker` and wires its `wake` to the sync engine's `on_change` and the
push manager's `on_applied`, so polling and push both reach it.
"""

from __future__ import annotations

from slotlinks.discovery.alerts.mailer import Mailer, SmtpMailer, SmtpTarget
from slotlinks.discovery.alerts.worker import AlertWorker

__all__ = ["AlertWorker", "Mailer", "SmtpMailer", "SmtpTarget"]
