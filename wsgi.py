"""Production entry point: `gunicorn wsgi:app` (run `flask --app finder setup` first)."""

from finder import create_app

app = create_app()
