from alembic import context

from casekit.db import run_alembic_env
from services.search.reports.models import metadata

run_alembic_env(context, metadata)
