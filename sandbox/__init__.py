"""Local stand-ins for every external platform and provider, following their public docs.

Used by ``make demo`` and the tests; the product code never imports this package.
Each platform is served under its own prefix, ``/{platform}/{instance}/…``, followed by the
platform's real paths, so a connector's base URL is the only thing that differs from production.
"""
