"""Who may do what. Every application-service call and query passes through these checks.

- coach: the dossiers of pupils assigned to them (a coach who opens a dossier is assigned);
- counsellor (decaan): every pupil of the school; assigns coaches; reads the audit views
  and the access log;
- auditor: the audit views only, never dossier content;
- admin: users, never dossier content.

A role that may never do a thing gets `Forbidden` (403); a pupil outside one's scope
does not exist (`DossierNotFound`, 404). The role is checked first, so a 403 never
tells whether a pupil exists.
"""

from collections.abc import Collection
from dataclasses import dataclass

from dossier.errors import DossierNotFound, Forbidden

CONTENT_ROLES = frozenset({"coach", "counsellor"})
AUDIT_ROLES = frozenset({"auditor", "counsellor"})


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


def check_role(actor: Actor, allowed: Collection[str], what: str) -> None:
    if actor.role not in allowed:
        raise Forbidden(f"the role {actor.role} may not {what}")


def check_may_use_dossiers(actor: Actor) -> None:
    """Auditors and admins never see dossier content."""
    check_role(actor, CONTENT_ROLES, "see or record dossier content")


def check_may_assign_coaches(actor: Actor) -> None:
    check_role(actor, {"counsellor"}, "assign coaches")


def check_may_audit(actor: Actor) -> None:
    check_role(actor, AUDIT_ROLES, "use the audit views")


def check_may_read_access_log(actor: Actor) -> None:
    check_role(actor, {"counsellor"}, "read the access log")


def check_may_manage_users(actor: Actor) -> None:
    check_role(actor, {"admin"}, "manage users")


def in_scope(actor: Actor, pupil_school: str, coaches: Collection[str]) -> bool:
    if pupil_school != actor.school:
        return False
    return actor.role != "coach" or actor.user_id in coaches


def check_in_scope(
    actor: Actor, pupil_school: str, coaches: Collection[str], pupil_id: object
) -> None:
    """Outside one's scope a pupil does not exist."""
    if not in_scope(actor, pupil_school, coaches):
        raise DossierNotFound(f"no pupil {pupil_id}")
