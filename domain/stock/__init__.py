"""Stock: figures in (polls, stored webhooks, orders and their allocation), detection of stock
states, per-location thresholds, and what each channel must show (propagation, pushes)."""
