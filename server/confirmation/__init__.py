"""Judicial confirmation (司法确认): the parties' joint application, the court's queue and the ruling."""
