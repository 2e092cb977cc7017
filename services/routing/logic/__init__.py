"""Business rules of the routing service, one module per concern.

``queues`` (queues, members, putting cases in queues), ``rules``/``ruleset`` (the routing rule set),
``agents`` (profiles), ``claims`` (claim next, leases, assignment), ``views`` (scored queue views and
explanations), ``actions`` (moves and priority raises other modules call), ``sla*``/``calendars``
(SLA clocks).
"""

from services.routing.logic.queues import (  # noqa: F401
    DEFAULT_QUEUE,
    add_member,
    enqueue_case,
    get_work_item,
    supervisors_of,
    work_item_out,
)
