"""Domain errors. The API maps each class to an HTTP status in one place."""


class DomainError(Exception):
    """A broken domain rule."""

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidValue(DomainError):
    """A value that the domain does not accept (wrong enum, bad format, too long)."""


class FutureDate(InvalidValue):
    """A domain date (when something happened) that lies in the future."""


class UnknownEntry(DomainError):
    """An entry id that does not exist in this dossier."""


class EntryRetracted(DomainError):
    """The entry was retracted; it can no longer be used, corrected or extended."""


class ActionClosed(DomainError):
    """The follow-up action was already completed or abandoned."""


class PhaseAlreadyRecorded(DomainError):
    """The conversation already has this phase; correct it instead."""


class CoachAlreadyAssigned(DomainError):
    """The coach is assigned to this pupil already."""


class NoConsent(DomainError):
    """No consent to transfer the dossier is in force."""


class DossierNotFound(DomainError):
    """No such dossier, or not one the caller may see."""


class DossierUnavailable(DomainError):
    """The dossier's views cannot be shown for now (a read model could not apply one of
    its events); its events are safe, and the history and summary still answer."""


class ViewsCatchingUp(DossierUnavailable):
    """The views are still being brought up to date with many events (a rebuild runs, or
    the follower fell far behind): showing them now would leave recent entries out."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class VersionConflict(DomainError):
    """The caller's If-Match version is not the dossier's current version."""


class Forbidden(DomainError):
    """The caller's role may never do this."""


class NotAuthenticated(DomainError):
    """Missing, unknown, expired or revoked credentials."""


class AccountError(DomainError):
    """A school or user that does not exist, or exists already."""


class UnknownAccount(AccountError):
    """No such school or user (or not one the caller may manage)."""
