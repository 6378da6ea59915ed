"""Transfer bundles: a pupil's whole history, hash-chained and signed by the exporting school.

Building and checking a bundle is pure: no storage, no HTTP. The JSON Schema in
`schemas/transfer-bundle-v1.json` is the format's documentation and its first check.
"""

import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import jsonschema

from dossier.errors import InvalidValue
from dossier.keys import fingerprint, public_key_of, sign, verify

FORMAT = "loopbaandossier-transfer"
FORMAT_VERSION = 1
GENESIS = "0" * 64
SCHEMA_PATH = Path(__file__).with_name("schemas") / "transfer-bundle-v1.json"


class BundleRefused(InvalidValue):
    """A bundle that fails a check; the detail names the first bad event or the reason."""


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def link(previous: str, event: dict[str, Any]) -> str:
    return hashlib.sha256(previous.encode() + canonical(event)).hexdigest()


@dataclass(frozen=True)
class Signer:
    school: str
    private_key: str

    def pseudonym(self, user_id: str) -> str:
        """A stable stand-in for a user id: the receiving school learns roles, not people."""
        mac = hmac.new(self.private_key.encode(), user_id.encode(), hashlib.sha256)
        return f"{self.school}:{mac.hexdigest()[:24]}"

    def data(self, data: dict[str, Any]) -> dict[str, Any]:
        """Event data with the user ids in it (coaches) pseudonymised too."""
        hidden = dict(data)
        for key in ("coach", "coach_id"):
            if isinstance(hidden.get(key), str):
                hidden[key] = self.pseudonym(hidden[key])
        if isinstance(hidden.get("coaches"), list):
            hidden["coaches"] = [self.pseudonym(c) for c in hidden["coaches"]]
        return hidden


def build(
    signer: Signer,
    pupil_id: UUID,
    history: Sequence[Any],
    to_school: str | None,
    exported_at: str,
) -> dict[str, Any]:
    """A signed bundle of the history (events with version, type, recorded_at, actor, data)."""
    events, previous = [], GENESIS
    for e in history:
        actor = {**e.actor, "user_id": signer.pseudonym(e.actor["user_id"])}
        event = {
            "event_id": str(uuid5(pupil_id, str(e.version))),
            "version": e.version,
            "type": e.type,
            "recorded_at": e.recorded_at.isoformat(),
            "actor": actor,
            "data": signer.data(e.data),
        }
        previous = link(previous, event)
        events.append({**event, "hash": previous})
    public_key = public_key_of(signer.private_key)
    bundle = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "pupil_id": str(pupil_id),
        "exporting_school": {
            "code": signer.school,
            "public_key": public_key,
            "fingerprint": fingerprint(public_key),
        },
        "to_school": to_school,
        "exported_at": exported_at,
        "events": events,
        "chain_head": previous,
    }
    return {**bundle, "signature": sign(signer.private_key, canonical(bundle))}


@dataclass(frozen=True)
class Checked:
    """What `check` found: the bundle is whole, unchanged and from a trusted school."""

    pupil_id: UUID
    school: str
    exported_at: str
    events: list[dict[str, Any]]
    digest: str
    checks: tuple[str, ...]


def check(bundle: Any, is_trusted: Callable[[str, str], bool]) -> Checked:
    """Schema, then every event's place and hash in the chain, then trust and signature."""
    _check_schema(bundle)
    _check_chain(bundle["events"])
    if bundle["chain_head"] != bundle["events"][-1]["hash"]:
        raise BundleRefused("chain_head is not the last event's hash: events were removed or added")
    school = bundle["exporting_school"]
    if not is_trusted(school["code"], school["public_key"]):
        raise BundleRefused(f"the key of school {school['code']} is not trusted here")
    unsigned = {k: v for k, v in bundle.items() if k != "signature"}
    if not verify(school["public_key"], bundle["signature"], canonical(unsigned)):
        raise BundleRefused("the signature does not match the bundle")
    return Checked(
        pupil_id=UUID(bundle["pupil_id"]),
        school=school["code"],
        exported_at=bundle["exported_at"],
        events=bundle["events"],
        digest=digest(bundle),
        checks=(
            "schema", f"{len(bundle['events'])} event hashes and their chain",
            f"trusted key of {school['code']} ({school['fingerprint']})", "signature",
        ),
    )  # fmt: skip


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _check_schema(bundle: Any) -> None:
    error = jsonschema.exceptions.best_match(_validator().iter_errors(bundle))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "bundle"
        raise BundleRefused(f"{where}: {error.message}", field=where)


def _check_chain(events: list[dict[str, Any]]) -> None:
    previous = GENESIS
    for position, event in enumerate(events, start=1):
        if event["version"] != position:
            raise BundleRefused(
                f"event {position} has version {event['version']}: events were removed, "
                "reordered, duplicated or inserted",
                field=f"events/{position - 1}",
            )
        body = {k: v for k, v in event.items() if k != "hash"}
        previous = link(previous, body)
        if event["hash"] != previous:
            raise BundleRefused(
                f"event {position} ({event['type']}) does not match its hash: it was changed",
                field=f"events/{position - 1}",
            )
