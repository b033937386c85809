"""Agency scoping as a global filter: a session told an agency id sees only that agency's client rows.

A second line of defence behind the routers' own ``WHERE agency_id = …``: a query someone forgets to scope still
cannot read another agency's rows (SQLAlchemy's ``do_orm_execute`` + ``with_loader_criteria``, portable to SQLite).
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from generator.store.accounts import AgencyScoped

KEY = "docgen_agency_id"


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
        state.statement = state.statement.options(
            with_loader_criteria(AgencyScoped, lambda cls: cls.agency_id == agency_id, include_aliases=True)
        )
