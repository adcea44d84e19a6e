"""Purchasing: reorder math and demand, vendor purchase orders and their documents, following up
vendors, quantity mismatches, scorecards, and merchandising's answer to a lost sale."""
