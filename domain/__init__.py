"""Business rules and data. No Celery, no HTTP: everything here is plain Python over SQLAlchemy."""
