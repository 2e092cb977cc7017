"""The published interface between services: event names and the event envelope."""
