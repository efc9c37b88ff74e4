"""Statistics (统计): the figures of the cases a caller may see, aggregated by the database.

``figures`` holds the pure parts (the period asked for, success rates, the CSV); ``store`` the SQL (one
``GROUP BY`` per grouping, medians by window functions, on SQLite and PostgreSQL alike); ``usecases``
(:class:`StatisticsService`) decides whose cases a caller sees (an organisation's administrator: its
cases; court staff: the cases their court referred or holds; a mediator: their own) and checks the
filters; ``endpoints`` serves them as JSON and CSV. The dashboard page is ``web/static/stats.html``.
"""
