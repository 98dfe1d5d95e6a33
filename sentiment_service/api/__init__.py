"""The HTTP API (FastAPI): routes per resource, mounted in `app.create_app`."""
