"""The pupil's career dossier: aggregate, domain rules and application services.

Nothing in this package knows about HTTP or SQL.
"""
