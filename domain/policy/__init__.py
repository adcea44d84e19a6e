"""Policies that decide for the business and keep the rule that decided: refunds and appeasements."""
