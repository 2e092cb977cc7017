"""The cases service: case types, cases, parties, the audit trail and intake."""
