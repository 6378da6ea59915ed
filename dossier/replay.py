"""Applying stored events to an aggregate, for the applications' repositories.

The library's `project_aggregate` asserts, per event, `isinstance` against a runtime
Protocol; in a profile of the write path that check cost more than applying the event
itself (each request folds the events newer than its cached user and dossier).
"""

from collections.abc import Iterable
from typing import Any


def replay(aggregate: Any, events: Iterable[Any]) -> Any:
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate
