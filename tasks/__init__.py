"""Celery tasks, thin: IDs in, one domain call, IDs out. ``flows.py`` shows the chains."""
