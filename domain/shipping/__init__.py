"""Shipping: every shipment of an order on its way to the doorstep (label, manifest, scans,
delivery) and the exceptions it raises (no scan for days, carrier exception, return to sender,
split shipment) as cases."""
