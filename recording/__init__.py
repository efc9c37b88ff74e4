"""Recording as evidence and the live transcript (issue 4)."""
