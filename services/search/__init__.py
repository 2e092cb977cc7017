"""The search service: owns the search index only; fed by events."""
