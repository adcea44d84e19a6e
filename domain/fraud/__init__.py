"""Fraud hints: an explainable score from an order's signals, sending risky orders to a review
queue with the reasons; never a decline unless a store rule says so."""
