"""Returns (RMA) from request to refund and disposition: ``docs/returns.md``."""
