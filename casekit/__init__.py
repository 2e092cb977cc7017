"""Contracts and plumbing shared by every Casework service: no business rules, no models."""
