"""Who is asking: signed expiring tokens, password hashing, and principals."""
