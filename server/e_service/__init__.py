"""Electronic service of case documents (电子送达): consent, deliveries, links, proofs of service.

``usecases`` records consent and addresses, serves documents and answers the
receipt links; ``store`` keeps deliveries and their attempts; ``proof`` lays out
the proof of service (送达回证); ``endpoints`` is the HTTP table. The worker that
sends due deliveries is ``server.outbound.delivery``.
"""
