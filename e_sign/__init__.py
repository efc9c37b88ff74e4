"""The mediation agreement: drafting, the compensation calculator and PAdES signing (issue 5)."""
