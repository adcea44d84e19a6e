"""Payment providers (Stripe, Adyen, PayPal): refunds at the provider, and the provider's side of a
chargeback (verify the dispute notice, stage and submit evidence, read the outcome)."""
