"""The notifications service: staff notifications, outbound messages and channel adapters."""
