from alembic import context

from casekit.db import run_alembic_env
from gateway.users import Base

run_alembic_env(context, Base.metadata)
