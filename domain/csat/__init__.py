"""Customer satisfaction: a one-click survey after every resolved subject, its answers, the
negative-answer policy and the weekly report (``docs/csat.md``)."""
