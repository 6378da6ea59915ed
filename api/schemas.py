"""Request and response schemas: the only input validation at the edge.

Unknown fields are refused (marshmallow's default RAISE), so nobody can slip in
fields such as `school` or `version`. Length limits come from the domain vocabulary.
"""

from marshmallow import INCLUDE, Schema, fields, validate

from dossier import vocabulary as v


def text(limit: int, **kwargs: object) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=limit), **kwargs)  # type: ignore[arg-type]


def optional_text(limit: int) -> fields.String:
    return fields.String(validate=validate.Length(max=limit), allow_none=True)


def one_of(options: tuple[str, ...]) -> fields.String:
    return fields.String(required=True, validate=validate.OneOf(options))


class Enrolment(Schema):
    school_year = fields.String(
        required=True,
        validate=validate.Regexp(v.SCHOOL_YEAR_PATTERN, error="School year looks like 2024-2025."),
    )
    sector = one_of(v.SECTORS)
    grade = fields.Integer(required=True, strict=True, validate=validate.Range(1, v.MAX_GRADE))


class NewPupil(Enrolment):
    name = text(v.MAX_NAME, required=True)
    external_ref = optional_text(v.MAX_EXTERNAL_REF)
    date_of_birth = fields.Date(
        allow_none=True, metadata={"description": "Optional; decides whose consent counts."}
    )


class NewExperience(Schema):
    kind = one_of(v.EXPERIENCE_KINDS)
    title = text(v.MAX_TITLE, required=True)
    occurred_on = fields.Date(required=True)
    story = text(v.MAX_TEXT, required=True)
    emotion = one_of(v.EMOTIONS)
    place = optional_text(v.MAX_TITLE)


def id_list(min_items: int) -> fields.List:
    return fields.List(
        fields.UUID(), required=True, validate=validate.Length(min=min_items, max=v.MAX_IDS)
    )


class NewConversation(Schema):
    held_on = fields.Date(required=True)
    experience_ids = id_list(0)


class NewPhase(Schema):
    phase = one_of(v.PHASES)
    notes = text(v.MAX_TEXT, required=True)
    questions = fields.List(
        fields.String(validate=validate.Length(min=1, max=v.MAX_QUESTION)),
        load_default=list,
        validate=validate.Length(max=v.MAX_QUESTIONS),
    )


class NewInsight(Schema):
    kind = one_of(v.INSIGHT_KINDS)
    label = text(v.MAX_LABEL, required=True)
    words = optional_text(v.MAX_TEXT)
    experience_ids = id_list(1)
    conversation_id = fields.UUID(allow_none=True)


class NewAction(Schema):
    description = text(v.MAX_TEXT, required=True)
    due_on = fields.Date(required=True)
    helper = optional_text(v.MAX_TITLE)
    obstacles = optional_text(v.MAX_TEXT)
    conversation_id = fields.UUID(allow_none=True)


class Completion(Schema):
    outcome = text(v.MAX_REASON, required=True)


class Abandonment(Schema):
    reason = text(v.MAX_REASON, required=True)


class Correction(Schema):
    entry_id = fields.UUID(required=True)
    changes = fields.Dict(
        keys=fields.String(validate=validate.Length(max=50)),
        required=True,
        validate=validate.Length(min=1, max=10),
        metadata={"description": "New values of the entry's own fields, checked by its rules."},
    )
    reason = text(v.MAX_REASON, required=True)


class Retraction(Schema):
    entry_id = fields.UUID(required=True)
    reason = text(v.MAX_REASON, required=True)


class CoachAssignment(Schema):
    user_id = fields.UUID(required=True, metadata={"description": "A coach of the same school."})


class Page(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))


# Responses.


class Written(Schema):
    id = fields.UUID(
        metadata={"description": "The new entry's id (the pupil's for a new dossier)."}
    )
    version = fields.Integer(metadata={"description": "The dossier's version after this write."})


class Pupil(Schema):
    id = fields.UUID()
    version = fields.Integer()
    name = fields.String()
    external_ref = fields.String(allow_none=True)
    school = fields.String()
    school_year = fields.String()
    sector = fields.String()
    grade = fields.Integer()
    coaches = fields.List(fields.String(), metadata={"description": "Assigned coaches' user ids."})
    opened_at = fields.DateTime()
    updated_at = fields.DateTime()


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """`{items, next_cursor}`: the shape of every paged answer."""
    page_fields = {
        "items": fields.List(fields.Nested(item)),
        "next_cursor": fields.String(allow_none=True),
    }
    return Schema.from_dict(page_fields, name=name)  # type: ignore[arg-type]


PupilPage = page_of(Pupil, "PupilPage")


class EventActor(Schema):
    user_id = fields.String()
    role = fields.String()
    school = fields.String()


class HistoryEvent(Schema):
    version = fields.Integer()
    type = fields.String()
    recorded_at = fields.DateTime()
    actor = fields.Nested(EventActor)
    data = fields.Dict()


HistoryPage = page_of(HistoryEvent, "HistoryPage")


class Me(Schema):
    id = fields.String()
    name = fields.String()
    role = fields.String()
    school = fields.String()


class DateRange(Schema):
    """`from` and `to` dates, loaded under those names (`from` is a Python keyword)."""

    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()


class TimelineQuery(Page, DateRange):
    school_year = fields.String(validate=validate.Regexp(v.SCHOOL_YEAR_PATTERN))
    type = fields.String(
        validate=validate.OneOf(("enrolment", "experience", "conversation", "insight", "action"))
    )
    as_of = fields.AwareDateTime(
        default_timezone=None,
        metadata={"description": "Show the dossier as it had been recorded at this moment."},
    )


class TimelinePage(Schema):
    items = fields.List(
        fields.Dict(),
        metadata={
            "description": "entry_id, type, date, recorded_at, recorded_by, school, sector, "
            "grade, school_year, the entry's fields as corrected, corrected, corrections, "
            "retracted, retraction; conversations carry their phases"
        },
    )
    next_cursor = fields.String(allow_none=True)


class Story(Schema):
    qualities = fields.List(fields.Dict())
    motives = fields.List(fields.Dict())
    interests = fields.List(fields.Dict())
    suggestions = fields.List(fields.Dict())
    competencies = fields.Dict()
    incomplete_conversations = fields.List(fields.Dict())
    open_actions = fields.List(fields.Dict())


class AccessLogEntry(Schema):
    id = fields.Integer()
    at = fields.String(metadata={"description": "When (ISO 8601, UTC)."})
    view = fields.String(metadata={"description": "pupil, events, timeline, story or export"})
    user = fields.Nested(EventActor)


AccessLogPage = page_of(AccessLogEntry, "AccessLogPage")


class AuditQuery(DateRange):
    school_year = fields.String(validate=validate.Regexp(v.SCHOOL_YEAR_PATTERN))
    sector = fields.String(validate=validate.OneOf(v.SECTORS))
    grade = fields.Integer(validate=validate.Range(1, v.MAX_GRADE))
    late_after = fields.Integer(
        load_default=30,
        validate=validate.Range(0, 3650),
        metadata={"description": "Days after the experience that count as reflected late."},
    )
    backdated_after = fields.Integer(
        load_default=14,
        validate=validate.Range(0, 3650),
        metadata={
            "description": "Days between conversation and recording that count as backdated."
        },
    )
    format = fields.String(validate=validate.OneOf(("json", "csv")), load_default=None)


class AuditRow(Schema):
    pupil_id = fields.String()
    experience_id = fields.String()
    kind = fields.String()
    occurred_on = fields.String()
    school_year = fields.String()
    sector = fields.String()
    grade = fields.Integer()
    conversation_id = fields.String(allow_none=True)
    held_on = fields.String(allow_none=True)
    reflection_recorded_at = fields.String(allow_none=True)
    recorder_role = fields.String(allow_none=True)
    days_to_reflection = fields.Integer(allow_none=True)
    days_to_recording = fields.Integer(allow_none=True)
    not_reflected = fields.Boolean()
    reflected_late = fields.Boolean()
    backdated = fields.Boolean()
    reflected_before_experience = fields.Boolean()


class AuditSummary(Schema):
    school_year = fields.String()
    sector = fields.String()
    grade = fields.Integer()
    experiences = fields.Integer()
    reflected = fields.Integer()
    reflected_within = fields.Integer()
    percentage_reflected_within = fields.Float()
    conversations = fields.Integer()
    conversations_all_phases = fields.Integer()


class Audit(Schema):
    items = fields.List(fields.Nested(AuditRow))
    summary = fields.List(fields.Nested(AuditSummary))


class NewUser(Schema):
    name = text(v.MAX_NAME, required=True)
    role = one_of(v.ROLES)


class User(Schema):
    id = fields.UUID()
    name = fields.String()
    role = fields.String()
    school = fields.String()
    revoked = fields.Boolean()


class NewUserToken(User):
    token = fields.String(metadata={"description": "Shown once; only its hash is stored."})


class UserList(Schema):
    items = fields.List(fields.Nested(User))


class NewConsent(Schema):
    purpose = fields.String(load_default="transfer", validate=validate.OneOf(("transfer",)))
    given_by = one_of(("pupil", "parent"))
    to_school = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))


class Withdrawal(Schema):
    reason = fields.String(validate=validate.Length(max=v.MAX_REASON))


class ExportQuery(Schema):
    to_school = fields.String(validate=validate.Length(min=1, max=64))


class Bundle(Schema):
    """A transfer bundle; its own JSON Schema (dossier/schemas/transfer-bundle-v1.json)
    is checked by the import, which names the first thing wrong."""

    class Meta:
        unknown = INCLUDE


class ImportResult(Schema):
    pupil_id = fields.UUID()
    created = fields.Boolean()
    from_school = fields.String()
    events = fields.Integer()
