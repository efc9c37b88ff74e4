"""Cases from the traffic police's systems: an intake document signed per agency, one case per police case number."""
