"""Reports and process insight: a read model in the search service, fed by the events search consumes.

``models`` (tables in the ``casework_search`` database), ``derive`` (pure: a case's events -> its
rows), ``ingest`` (apply one event idempotently), ``queries`` and ``mining`` (the reports and the
process views), ``charts`` (SVG), ``export`` (CSV), ``history`` (rebuild from the cases service).
"""
