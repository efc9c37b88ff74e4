"""The case (案件): its life cycle as use-cases, the case's own endpoints, and its documents as pages.

``usecases`` (:class:`CaseService`) checks who may do what and runs the pure life
cycle (``server.domain.lifecycle``) against the store; ``endpoints`` is the HTTP
table for cases, participants, links, sessions, documents and the audit trail;
``pages`` renders a stored PDF's pages as images for phones.
"""
