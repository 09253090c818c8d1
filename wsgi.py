"""Production entry point: `gunicorn wsgi:app` (run `flask --app finder setup` first)."""

import sys

from finder import create_app
from finder.config import UnsafeSettings

try:
    app = create_app()
except UnsafeSettings as refused:  # the reason alone, not a traceback around it
    sys.exit(str(refused))
