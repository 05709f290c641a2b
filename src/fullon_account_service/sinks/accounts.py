"""Which ex_ids exist: an event for an account the database does not know is a contract breach.

Known accounts are remembered for the life of the sink (accounts are added far more often than
removed, and history of a removed one may still arrive); an unknown id is looked up again every
time, so an account added after the sink started is accepted as soon as its row exists.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.storage.db.errors import translating
from fullon_account_service.storage.db.models import Exchange


class KnownAccounts:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = session_factory
        self._cat_ex_ids: dict[int, int] = {}

    def cat_ex_id(self, ex_id: int) -> int | None:
        return self._cat_ex_ids.get(ex_id)

    async def unknown(self, ex_ids: Iterable[int]) -> set[int]:
        """The ids among ``ex_ids`` with no ``exchanges`` row."""
        missing = {ex_id for ex_id in ex_ids if ex_id not in self._cat_ex_ids}
        if not missing:
            return set()
        async with translating("look up exchanges"), self._factory() as session:
            result = await session.execute(
                select(Exchange.ex_id, Exchange.cat_ex_id).where(Exchange.ex_id.in_(missing))
            )
            for ex_id, cat_ex_id in result:
                self._cat_ex_ids[ex_id] = cat_ex_id
        return {ex_id for ex_id in missing if ex_id not in self._cat_ex_ids}
