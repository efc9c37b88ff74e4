"""The pure core: the case life cycle, roles, views and the audit chain.

Nothing here performs I/O, reads the clock or imports a framework; an
import-linter contract (``pyproject.toml``) keeps it so.
"""
