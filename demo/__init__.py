"""The demo: the product end to end on one machine, against the sandbox's stand-ins.

``run`` tells the story (``make demo`` or ``python -m demo`` from the repository root) and
``scenario`` points the example store at a running sandbox, for the demo and the tests alike.
This part lives beside the product and is not installed with it: nothing in ``workers``,
``tasks``, ``domain`` or ``connectors`` imports it (the import contracts in ``pyproject.toml``
check that).
"""
