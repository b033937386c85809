"""Agency scoping as a global filter: a session told an agency id sees only that agency's client rows.

A second line of defence behind the routers' own ``WHERE agency_id = …``: a query someone forgets to scope still
cannot read another agency's rows (SQLAlchemy's ``do_orm_execute`` + ``with_loader_criteria``, portable to SQLite).
"""

from __future__ import annotations

import threading

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.orm.util import LoaderCriteriaOption

from generator.store.accounts import AgencyScoped

KEY = "docgen_agency_id"
# one loader-criteria option per agency, made once: building it (SQLAlchemy analyses the lambda and its closure) was a
# third of what the portal's scoped query of a job cost (~55 of ~110 us); the option carries its agency's id, so each
# agency's statements still get their own criteria
_OPTIONS: dict[int, LoaderCriteriaOption] = {}
_OPTIONS_LOCK = threading.Lock()


def scope(session: Session, agency_id: int | None) -> Session:
    """Limit ``session`` to one agency's client rows (None: every agency, for compliance and admin)."""
    if agency_id is None:
        session.info.pop(KEY, None)
    else:
        session.info[KEY] = agency_id
    return session


@event.listens_for(Session, "do_orm_execute")
def _filter(state: ORMExecuteState) -> None:
    agency_id = state.session.info.get(KEY)
    if agency_id is None or state.is_column_load or state.is_relationship_load:
        return
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(_criteria(agency_id))


def _criteria(agency_id: int) -> LoaderCriteriaOption:
    found = _OPTIONS.get(agency_id)
    if found is None:
        with _OPTIONS_LOCK:
            if len(_OPTIONS) > 10_000:  # agencies come and go over a server's life: the memo stays bounded
                _OPTIONS.clear()
            found = _OPTIONS[agency_id] = with_loader_criteria(AgencyScoped, lambda cls: cls.agency_id == agency_id, include_aliases=True)
    return found
