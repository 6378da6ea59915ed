"""Who may do what: every application-service call passes through these checks."""

from dataclasses import dataclass

from dossier.errors import DossierNotFound, Forbidden

CONTENT_ROLES = frozenset({"coach", "counsellor"})


@dataclass(frozen=True)
class Actor:
    """The authenticated user on whose behalf a command or query runs."""

    user_id: str
    role: str
    school: str
    name: str = ""

    def as_record(self) -> dict[str, str]:
        """What each event stores about who recorded it."""
        return {"user_id": self.user_id, "role": self.role, "school": self.school}


def check_may_use_dossiers(actor: Actor) -> None:
    """Auditors and admins never see dossier content."""
    if actor.role not in CONTENT_ROLES:
        raise Forbidden(f"the role {actor.role} has no access to dossier content")


def check_in_scope(actor: Actor, pupil_school: str, pupil_id: object) -> None:
    """Outside one's scope a pupil does not exist."""
    if pupil_school != actor.school:
        raise DossierNotFound(f"no pupil {pupil_id}")
