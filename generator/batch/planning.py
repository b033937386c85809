"""The one planning step: each row parsed, held to the issuing policy, priced by its revision, one pack per client."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from generator.batch.policy import IssuingPolicy
from generator.content.model import Product
from generator.content.request import ClientRequest, RowError, parse_client
from generator.content.revisions import Revision, Schedule
from generator.documents.fonts import missing_glyphs
from generator.documents.proposal import PackPlan, pack_folder, plan_pack
from generator.errors import DocgenError, InputError, QuoteRefused, ReferralRequired
from generator.i18n import N_
from generator.rating.rate import Quote, quote
from generator.site import Site

Row = tuple[int | None, Mapping[str, str] | ClientRequest]  # (spreadsheet row, raw cell values or a checked request)
REFUSALS = (QuoteRefused, ReferralRequired, InputError)  # a row's own problem: an error row, the rest go on


@dataclass(frozen=True)
class Checked:
    """A row that may be built: the request as it will be issued, the revision that prices it and its quote."""

    row: int | None
    request: ClientRequest
    values: Mapping[str, str]  # the cells as typed ({} for a request checked before)
    product: Product  # the revision in force on the request's start date
    revision: Revision | None  # None: the product the planner was given
    last_day: dt.date | None  # the last start date that revision prices
    quote: Quote

    @property
    def revision_name(self) -> str:
        return self.revision.name if self.revision is not None else self.product.revision


class Planner:
    """Checks and plans the rows of one request or list, for every face (CLI, portal, Dask client and worker).

    ``policy`` (default: the operator's, which prints what the row says) decides the agency, contact and date each
    document may carry; a row it refuses is an error row. With a ``schedule`` (resolved once per list), each row is
    priced and documented by the revision in force on its start date (:meth:`Schedule.pick`); without one, by
    ``product``, valid at most until ``last_day``. ``start`` and ``renewal`` apply to rows that give no start date
    (``docgen proposals --start D --renewal``). A client and contact asked for twice is an error row: one pack per client.
    ``site`` (templates, revision folders) is needed to plan, not to check: None checks only (the portal's upload page).
    """

    def __init__(self, site: Site | None, product: Product, today: dt.date, policy: IssuingPolicy | None = None, *,
                 schedule: Schedule | None = None, last_day: dt.date | None = None, start: dt.date | None = None,
                 renewal: bool = False) -> None:
        self.site, self.product, self.today = site, product, today
        self.policy = policy or IssuingPolicy.operator()
        if schedule is None and product.revision:  # a caller that knows one revision only: a start date must still fall within it
            folder = (site.content if site is not None else Path()) / product.key  # read by plan() only
            schedule = Schedule(product.key, (Revision(product.revision, folder, product),))
        self.schedule, self.last_day, self.start, self.renewal = schedule, last_day, start, renewal
        self._seen: dict[int, int | None] = {}  # 8 bytes per accepted row: a cluster client streams millions

    def check(self, row: int | None, values: Mapping[str, str] | ClientRequest) -> tuple[Checked | None, list[RowError]]:
        """The row as it may be built, or None and every reason why not (each value as the cell holds it)."""
        if isinstance(values, ClientRequest):  # checked already (the API, the portal's form)
            given = values
            values = {}
        else:
            parsed, errors = parse_client(dict(values), row=row, missing_glyphs=missing_glyphs)
            if parsed is None:
                return None, errors
            given = parsed
        request, refused = self.policy.apply(given)
        if request is None:  # 平成31年4月1日 as typed, not the date it reads as
            return None, [dataclasses.replace(e, value=values.get(e.column) or e.value) for e in refused]
        if (self.start and request.start is None) or (self.renewal and not request.renewal):
            request = dataclasses.replace(request, start=request.start or self.start, renewal=request.renewal or self.renewal)
        try:
            product, revision, last_day = self._revision(request)
            priced = quote(product, request.industry, request.revenue, request.limit)
        except REFUSALS as exc:
            return None, [refusal(row, values, exc)]
        key = _key(request)
        if key in self._seen:
            twin = InputError("client", request.client, N_("same client and contact as row {row}; one pack per client"),
                              params={"row": self._seen[key]})
            return None, [RowError(row, "client", request.client, twin.reason, twin)]
        self._seen[key] = row
        return Checked(row, request, values, product, revision, last_day, priced), []

    def plan(self, checked: Checked) -> PackPlan:
        """Everything the pack is built from (contexts, folder, digest); raises what the quote or issue date refuses."""
        assert self.site is not None, "a planner made without a site checks rows; it cannot plan them"
        templates = checked.revision.on_site(self.site).templates if checked.revision is not None else self.site.templates
        return plan_pack(checked.product, checked.request, self.today, templates, last_day=checked.last_day)

    def plan_rows(self, rows: Iterable[Row]) -> tuple[list[PackPlan], list[RowError]]:
        """Check and plan every row: (plans in row order, error rows)."""
        plans: list[PackPlan] = []
        errors: list[RowError] = []
        for row, values in rows:
            checked, bad = self.check(row, values)
            if checked is None:
                errors += bad
                continue
            try:
                plans.append(self.plan(checked))
            except REFUSALS as exc:
                del self._seen[_key(checked.request)]  # not planned: a later row of the same client may be
                errors.append(refusal(row, checked.values, exc))
        return plans, errors

    def _revision(self, request: ClientRequest) -> tuple[Product, Revision | None, dt.date | None]:
        if self.schedule is None or (self.schedule.single and request.start is None):  # one revision, no date asked
            return self.product, None, self.last_day
        rev = self.schedule.pick(request.start, request.renewal, self.today)
        return rev.product, rev, self.schedule.last_day(rev, request.renewal) if self.last_day is None else self.last_day


def refusal(row: int | None, values: Mapping[str, str], exc: DocgenError) -> RowError:
    """A refused, referred or invalid row, naming the column and the cell as typed (2億, not the quote's 2億円)."""
    column = str(getattr(exc, "field", "industry") or "industry").lstrip("-")
    return RowError(row, column, values.get(column) or str(getattr(exc, "value", "") or ""), str(exc), exc)


def _key(request: ClientRequest) -> int:
    folder = pack_folder(request.client, request.contact)  # one folder per (client, contact): the pack's identity
    return int.from_bytes(hashlib.blake2b(folder.encode(), digest_size=8).digest(), "big")
