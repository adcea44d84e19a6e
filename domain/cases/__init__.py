"""Cases: every order exception (a backorder, a fraud hold, a stuck parcel, a chargeback) as one
row with a kind, an owner, a priority, an SLA timer, a playbook and a history of who did what."""
