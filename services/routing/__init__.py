"""The routing service: queues, agents, work items, routing rules and SLA clocks."""
