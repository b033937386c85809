"""The issuing policy: which agency, agent contact and issue date a document may carry for the person asking."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from generator.content.request import ClientRequest, RowError
from generator.jptext import company_key, fold


@dataclass(frozen=True)
class IssuingPolicy:
    """Decided once by a face for the person asking; applied to every request before it is planned.

    ``agency`` None lets a request name any agency (a CLI user is the agency operator); otherwise every document
    carries ``agency`` and ``agent_contact`` and a request naming another agency or contact is refused. ``dates``
    None allows any issue date; otherwise only those dates (the portal: today).
    """

    agency: str | None = None
    agent_contact: str = ""
    dates: frozenset[dt.date] | None = None

    @classmethod
    def operator(cls) -> IssuingPolicy:
        """The CLI's policy: what the request says (agency, contact, date) is printed."""
        return cls()

    @classmethod
    def for_agent(cls, agency: str, agent: str, today: dt.date) -> IssuingPolicy:
        """A portal agent's policy: their own agency, ``担当：<name>``, dated today."""
        return cls(agency=agency, agent_contact=f"担当：{agent}" if agent else "", dates=frozenset({today}))

    def apply(self, request: ClientRequest) -> tuple[ClientRequest | None, list[RowError]]:
        """The request as it may be issued, or None and why not (each reason in Japanese, naming the list's column).

        >>> p = IssuingPolicy.for_agent("さくら保険サービス株式会社", "山本", dt.date(2026, 12, 6))
        >>> r = ClientRequest("A社", "", "製造業", 1, 1, agent_name="(株)さくら保険サービス", row=2)
        >>> p.apply(r)[0].agent_name, p.apply(r)[0].date
        ('さくら保険サービス株式会社', datetime.date(2026, 12, 6))
        >>> [e.column for e in p.apply(dataclasses.replace(r, agent_name="ひまわり保険", date=dt.date(2019, 4, 1)))[1]]
        ['agent_name', 'date']
        """
        if self.agency is None and self.dates is None:
            return request, []
        errors: list[RowError] = []
        if self.agency is not None:
            if request.agent_name and company_key(request.agent_name) != company_key(self.agency):
                errors.append(RowError(request.row, "agent_name", request.agent_name,
                                       f"ログイン中の代理店（{self.agency}）以外の代理店名は使えません。空欄にしてください（代理店名はアカウントから入ります）"))
            if request.agent_contact and fold(request.agent_contact) not in (fold(self.agent_contact), fold(self.agent_contact.removeprefix("担当："))):
                errors.append(RowError(request.row, "agent_contact", request.agent_contact,
                                       f"代理店連絡先はアカウントから入ります（{self.agent_contact or '空欄'}）。空欄にしてください"))
        if self.dates is not None and request.date is not None and request.date not in self.dates:
            allowed = "、".join(sorted(d.isoformat() for d in self.dates))
            errors.append(RowError(request.row, "date", request.date.isoformat(),
                                   f"日付は本日（{allowed}）のみ指定できます。空欄にすると本日の日付になります"))
        if errors:
            return None, errors
        issued = request.date if request.date is not None else (min(self.dates) if self.dates else None)
        if self.agency is None:
            return dataclasses.replace(request, date=issued), []
        return dataclasses.replace(request, agent_name=self.agency, agent_contact=self.agent_contact, date=issued), []
