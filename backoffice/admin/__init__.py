"""Admin registrations of every app (Django's autodiscovery imports this package)."""

from backoffice.admin import ai, contacts, evals, followups, messaging, payments  # noqa: F401
