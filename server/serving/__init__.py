"""Electronic service of case documents (电子送达): consent, deliveries, links, proofs of service."""
