"""Business rules of the routing service, one module per concern."""

from services.routing.logic.queues import *  # noqa: F403
from services.routing.logic.queues import (  # noqa: F401
    DEFAULT_QUEUE,
    add_member,
    choose_queue,
    enqueue_case,
    get_work_item,
    queue_view,
    supervisors_of,
    work_item_out,
)
