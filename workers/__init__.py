"""Process entry points: the Celery app, the web receiver, the CLI and the embedded servers."""
