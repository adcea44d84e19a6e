"""Celery tasks, thin: IDs in, one call, IDs out. ``flows/spine.py`` shows the chains: every stage,
its task, its queue and what follows. Tasks never import each other; they dispatch stages."""
