"""The approvals in force: which approval number each content version's documents print, decided before planning.

Loading content never reads approvals: a loaded product is its files. A face's caller decides the approvals once
(``api.approvals``: the site's database, or the portal's) and hands them to planning and building, which print them
through :meth:`Approvals.printed`, the one place a product is given its number.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from generator.content.model import Product
from generator.content.revisions import Schedule


def printed(product: Product, number: str) -> Product:
    """``product`` as its documents print it with approval ``number`` ("": a draft); its content hash is unchanged."""
    if product.meta.approval_number == number:
        return product
    return dataclasses.replace(product, meta=dataclasses.replace(product.meta, approval_number=number))


@dataclass(frozen=True)
class Approvals:
    """Approval numbers by product and exact content hash; a version not in it is a draft.

    >>> from types import SimpleNamespace as NS
    >>> p = NS(key="cyber_lite", digest=lambda: "0123456789ab")
    >>> Approvals({("cyber_lite", "0123456789ab"): "CL-2026-001"}).number(p), Approvals().number(p)
    ('CL-2026-001', '')
    """

    numbers: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def number(self, product: Product) -> str:
        """The number ``product``'s exact content prints, "" for a draft."""
        return self.numbers.get((product.key, product.digest()), "")

    def printed(self, product: Product) -> Product:
        """``product`` printing the approval in force for its content (none: a draft)."""
        return printed(product, self.number(product))

    def schedule(self, sched: Schedule) -> Schedule:
        """Every revision of ``sched`` printing its approval."""
        return dataclasses.replace(sched, revisions=tuple(dataclasses.replace(r, product=self.printed(r.product)) for r in sched.revisions))

    def merged(self, fallback: Approvals) -> Approvals:
        """These approvals, and ``fallback``'s for versions these do not approve."""
        return Approvals({**fallback.numbers, **self.numbers})
