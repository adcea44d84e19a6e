"""The outside world: platform and provider clients.

Nothing here imports Celery or the database; connectors return the plain dataclasses of
``connectors.types`` that tasks map into the domain.
"""
