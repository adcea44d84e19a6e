"""Helpdesk deliveries kept for triage: each verified webhook stored once (``inbox``)."""
