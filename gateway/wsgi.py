"""gunicorn target: ``gunicorn -c deploy/gunicorn.conf.py gateway.wsgi:application``."""

from casekit.logs import setup_logging
from gateway.app import create_app

setup_logging("gateway")
application = create_app()
