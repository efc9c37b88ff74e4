"""When mediation fails (调解不成转诉讼): the record of undisputed facts (无争议事实记载) goes to the court.

``usecases`` (:class:`FailureService`) lets the mediator draft the record in versions, the parties
confirm or object online, and the mediator end the mediation as failed together with the sealed
record; the referring court's staff read it. ``store`` keeps the versions and answers, ``render`` lays
out the document, ``endpoints`` is the HTTP table.
"""
