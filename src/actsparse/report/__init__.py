"""Tables, the claims ledger, the refuted log, the results page and the figures."""
