"""Outbound webhooks: subscriptions (``gateway/routes/webhooks.py``), the delivery log, and the
dispatcher process (``python -m gateway.webhooks``) that turns bus events into signed POSTs."""
