from alembic import context

from casekit.db import run_alembic_env
from services.notifications.models import Base

run_alembic_env(context, Base.metadata)
