"""Payments: refunds decided by policy executed at the payment provider (Stripe, Adyen, PayPal) or
the store platform, once per decision, with the provider's answer reconciled and exported for
finance."""
