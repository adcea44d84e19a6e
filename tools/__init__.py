"""Developer tools run by ``make lint``; part of the checkout, not of the installed product."""
