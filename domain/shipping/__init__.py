"""Shipping: the order's path to the doorstep. Shipments and their scans as rows (``shipments``),
the shipping accounts polled for them (``accounts``), and the rules that turn a stuck parcel, a
carrier exception, a return to sender or a split order into one case and, by policy, one message
to the customer (``rules``, ``notices``); ``views`` reads it back for ``backorders why order``."""
