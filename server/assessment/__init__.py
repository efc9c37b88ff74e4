"""Assessment (考核评价): each party rates a session privately; an organisation sees its mediators' figures.

``usecases`` (:class:`AssessmentService`) takes a party's rating of an ended session
(once; the mediator never sees it) and gives an organisation's administrator each of its
mediators' figures, aggregated by the database; ``store`` keeps the ratings;
``endpoints`` is the HTTP table.
"""
