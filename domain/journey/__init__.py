"""The customer's journey: a backorder from the first delay notice through choice, reminders and
deadlines to its fill, refund or substitute; segments and signed choice links."""
