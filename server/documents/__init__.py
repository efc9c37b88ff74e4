"""Court documents rendered as PDF: the mediation record, the mediation agreement,
the proof of service and rulings, all built with :mod:`server.documents.pdf`; the
ones the platform or a court issues are sealed by :mod:`server.documents.sealed`."""
