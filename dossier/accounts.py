"""Schools, users and their bearer tokens, event-sourced in an application of their own.

Tokens are random and shown once; only their SHA-256 is stored, as the deterministic
id of a `Credential` (uuid5 of the hash), so a request finds its credential with one
read and no table of our own. The token has 256 bits of entropy, so a fast hash is
enough: nobody can guess a pre-image.
"""

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic

from dossier.access import Actor, check_may_manage_users
from dossier.errors import AccountError, InvalidValue, NotAuthenticated, UnknownAccount
from dossier.keys import check_public_key, fingerprint, new_private_key, public_key_of
from dossier.replay import replay
from dossier.vocabulary import ROLES

NAMESPACE = uuid5(NAMESPACE_URL, "https://loopbaandossier.nl/accounts")
TOKEN_PREFIX = "ldt_"
DEFAULT_TOKEN_LIFETIME = timedelta(days=365)
CREDENTIAL_CACHE_SIZE = 10_000


def school_id(code: str) -> UUID:
    return uuid5(NAMESPACE, f"school:{code}")


def credential_id(token: str) -> UUID:
    digest = hashlib.sha256(token.encode()).hexdigest()
    return uuid5(NAMESPACE, f"token:{digest}")


class School(Aggregate):
    """A school, with the Ed25519 key it signs dossier exports with (PKCS#8 PEM)."""

    @event("Registered")
    def __init__(self, code: str, name: str, private_key: str) -> None:
        self.code = code
        self.name = name
        self.private_key = private_key

    @staticmethod
    def create_id(code: str, **_: Any) -> UUID:
        return school_id(code)


class TrustedKey(Aggregate):
    """Another school's public key, registered after comparing its fingerprint."""

    @event("Registered")
    def __init__(self, code: str, public_key: str) -> None:
        self.code = code
        self.public_key = public_key

    @staticmethod
    def create_id(code: str, public_key: str) -> UUID:
        return uuid5(NAMESPACE, f"trust:{code}:{public_key}")


@dataclass(frozen=True)
class SchoolKey:
    code: str
    public_key: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)


class User(Aggregate):
    @event("Registered")
    def __init__(self, name: str, role: str, school: str) -> None:
        self.name = name
        self.role = role
        self.school = school
        self.revoked = False

    @event("Revoked")
    def revoke(self, reason: str) -> None:
        self.revoked = True


class Credential(Aggregate):
    @event("Issued")
    def __init__(self, token_hash_id: UUID, user_id: UUID, expires_at: datetime) -> None:
        self.user_id = user_id
        self.expires_at = expires_at

    @staticmethod
    def create_id(token_hash_id: UUID, **_: Any) -> UUID:
        return token_hash_id


@dataclass(frozen=True)
class UserSummary:
    id: UUID
    name: str
    role: str
    school: str
    revoked: bool


class Accounts(Application[UUID]):
    name = "accounts"
    # Every request looks its user up. Cached users are still brought up to date from the
    # log on each lookup (the library's fast-forward), so a revocation by another process
    # counts at once; the cache only saves rebuilding the user from its events each time.
    env: ClassVar = {"AGGREGATE_CACHE_MAXSIZE": "1000"}

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self._credentials: dict[UUID, Credential] = {}

    def add_school(self, code: str, name: str) -> UUID:
        if not code.strip() or not name.strip():
            raise InvalidValue("a school needs a code and a name")
        if self._find(School, school_id(code)) is not None:
            raise AccountError(f"school {code} exists already")
        school = School(code=code, name=name, private_key=new_private_key())
        self.save(school)
        return school.id

    def school_name(self, code: str) -> str:
        return str(self._school(code).name)

    def school_key(self, code: str) -> SchoolKey:
        """The school's own public key."""
        return SchoolKey(code, public_key_of(self._school(code).private_key))

    def signing_key(self, code: str) -> str:
        return str(self._school(code).private_key)

    def trust(self, code: str, public_key: str) -> SchoolKey:
        """Trust another school's key for dossiers it exports."""
        if not code.strip():
            raise InvalidValue("a trusted key needs the school's code", field="code")
        key = TrustedKey(code=code, public_key=check_public_key(public_key))
        if self._find(TrustedKey, key.id) is not None:
            raise AccountError(f"this key of {code} is trusted already")
        self.save(key)
        return SchoolKey(code, public_key)

    def trusted(self) -> list[SchoolKey]:
        topic = get_topic(TrustedKey.Registered)  # type: ignore[attr-defined]
        return [
            SchoolKey(key.code, key.public_key)
            for n in self.recorder.select_notifications(None, 10**6, topics=[topic])
            for key in [self.repository.get(n.originator_id)]
        ]

    def trusted_key(self, code: str, public_key: str) -> bool:
        return self._find(TrustedKey, TrustedKey.create_id(code, public_key)) is not None

    def _school(self, code: str) -> School:
        school = self._find(School, school_id(code))
        if school is None:
            raise UnknownAccount(f"no school {code}")
        return school  # type: ignore[no-any-return]

    def add_user(
        self, school: str, role: str, name: str, lifetime: timedelta = DEFAULT_TOKEN_LIFETIME
    ) -> tuple[UUID, str]:
        """Register a user and issue their first token; the token is returned only here."""
        if role not in ROLES:
            raise InvalidValue(f"role must be one of {', '.join(ROLES)}")
        self.school_name(school)
        user = User(name=name, role=role, school=school)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        credential = Credential(
            token_hash_id=credential_id(token),
            user_id=user.id,
            expires_at=datetime.now(UTC) + lifetime,
        )
        self.save(user, credential)
        return user.id, token

    def authenticate(self, token: str) -> Actor:
        credential = self._credential(token)
        if credential is None or credential.expires_at <= datetime.now(UTC):
            raise NotAuthenticated("unknown or expired token")
        user = self._find(User, credential.user_id)
        if user is None or user.revoked:
            raise NotAuthenticated("this user's access was revoked")
        return Actor(user_id=str(user.id), role=user.role, school=user.school, name=user.name)

    def is_coach(self, school: str, user_id: str) -> bool:
        """Whether the user is an active (not revoked) coach at the school."""
        try:
            user = self._find(User, UUID(user_id))
        except ValueError:
            return False
        return bool(user) and not user.revoked and user.role == "coach" and user.school == school

    def _credential(self, token: str) -> Credential | None:
        """A credential never changes once issued, so it is remembered; the user is not,
        so that a revocation takes effect at once, also across processes."""
        key = credential_id(token)
        found = self._credentials.get(key)
        if found is None:
            found = self._find(Credential, key)
            if found is not None:
                if len(self._credentials) >= CREDENTIAL_CACHE_SIZE:
                    self._credentials.clear()
                self._credentials[key] = found
        return found

    def revoke_user(self, user_id: UUID, reason: str = "revoked") -> None:
        user = self._find(User, user_id, to_change=True)
        if user is None:
            raise UnknownAccount(f"no user {user_id}")
        user.revoke(reason)
        self.save(user)

    def users_of(self, actor: Actor) -> list[UserSummary]:
        """The users of an admin's school."""
        check_may_manage_users(actor)
        return [u for u in self.list_users() if u.school == actor.school]

    def add_user_as(self, actor: Actor, role: str, name: str) -> tuple[UserSummary, str]:
        """An admin adds a user at their own school; the token is returned only here."""
        check_may_manage_users(actor)
        user_id, token = self.add_user(actor.school, role, name)
        return UserSummary(user_id, name, role, actor.school, revoked=False), token

    def revoke_user_as(self, actor: Actor, user_id: UUID) -> None:
        """An admin revokes a user of their own school; others' users do not exist for them."""
        check_may_manage_users(actor)
        user = self._find(User, user_id)
        if user is None or user.school != actor.school:
            raise UnknownAccount(f"no user {user_id}")
        self.revoke_user(user_id, f"revoked by {actor.user_id}")

    def list_users(self) -> list[UserSummary]:
        """Every user, read from this application's log (a small stream of account events)."""
        topic = get_topic(User.Registered)  # type: ignore[attr-defined]
        users = []
        for notification in self.recorder.select_notifications(None, 10**6, topics=[topic]):
            user = self.repository.get(notification.originator_id)
            users.append(UserSummary(user.id, user.name, user.role, user.school, user.revoked))
        return users

    def _find(self, kind: type[Aggregate], aggregate_id: UUID, *, to_change: bool = False) -> Any:
        """The aggregate, or None. Only one `to_change` is a copy of the cached one: a
        lookup on every request need not copy a user it only reads."""
        try:
            found = self.repository.get(
                aggregate_id, projector_func=replay, deepcopy_from_cache=to_change
            )
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, kind) else None
