"""The mediation agreement (调解协议书): structured terms, versioned drafts, the PDF, comments.

``terms`` reads and checks what the mediator drafts (facts, the compensation
claim for the calculator in ``server.domain.compensation``, obligations,
other terms); ``render`` lays the agreement out as a PDF with one signature
box per signer; ``usecases`` stores each draft as a new version that the
parties can read and comment on before signing; ``endpoints`` is the HTTP table. Signing is ``server.signing``.
"""
