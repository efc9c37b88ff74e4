"""Online signing of the mediation agreement (在线签署): one-time codes, PAdES signatures, the completion certificate.

``usecases`` opens signing on the agreed terms, sends each signer a code, signs
the PDF for each signer and seals it when everyone has; ``certificate`` lays out
the completion certificate; ``endpoints`` is the HTTP table (and the
independent verification of a signed PDF).
"""
