"""Business rules of the notifications service.

- ``staff``: notifications to staff (subscriptions, preferences, inbox);
- ``outbound``: email and SMS to customers and staff, the claim-before-send states, the delivery log;
- ``templates``: per event and locale, sandboxed rendering;
- ``email_in``, ``ingest``, ``fax``, ``webhooks``: inbound channels, used by the adapters
  (``services/notifications/adapters``) and by the webhook RPC.
"""

from services.notifications.logic.staff import inbox, mark_read, notify_queue_supervisors

__all__ = ["inbox", "mark_read", "notify_queue_supervisors"]
