"""Helpdesk connectors: Zendesk, Gorgias and Intercom (``contract`` says what each offers)."""
