"""Channel adapters: each runs as its own process (``python -m services.notifications.adapters.X``)."""
