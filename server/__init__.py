"""The mediation server: app assembly, configuration, the case store and the case life cycle."""

__version__ = "0.1.0"
