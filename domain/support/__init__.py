"""Support tickets: intake and linking, offline triage (intent, sentiment, legal threat, priority,
customer value) and the escalation ladder that routes each ticket to a queue (``docs/support.md``)."""
