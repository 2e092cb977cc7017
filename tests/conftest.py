"""Test tiers: unit (no servers), integration (real PostgreSQL + RabbitMQ), e2e (every process).

Run through ``nameko test`` (bin/tests), which monkey-patches eventlet before pytest starts.
"""
