"""Chargebacks: a processor's dispute as a case with the processor's deadline, an evidence packet
assembled per reason code, staged for approval and submitted before the deadline, and the outcome
noted."""
