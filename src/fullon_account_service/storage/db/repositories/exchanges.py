"""Exchange accounts: discovery reads them, operators add and switch them.

Every exchange comes back with ``cat_exchange`` loaded (``exchange.cat_exchange.name`` is the
ccxt id), because an async session cannot lazy-load it later.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fullon_account_service.storage.db.errors import translating
from fullon_account_service.storage.db.models import CatExchange, Exchange, User


class ExchangeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, ex_id: int) -> Exchange | None:
        async with translating("get exchange"):
            return await self._session.get(Exchange, ex_id)

    async def get_user_exchanges(self, uid: int) -> list[Exchange]:
        async with translating("get user exchanges"):
            result = await self._session.execute(
                select(Exchange).where(Exchange.uid == uid).order_by(Exchange.ex_id)
            )
            return list(result.scalars())

    async def get_active(self) -> list[Exchange]:
        """Every active exchange of every active user: what the daemon must watch."""
        async with translating("get active exchanges"):
            result = await self._session.execute(
                select(Exchange)
                .join(User, User.uid == Exchange.uid)
                .where(Exchange.active.is_(True), User.active.is_(True))
                .order_by(Exchange.ex_id)
            )
            return list(result.scalars())

    async def get_cat_exchange(self, name: str, *, create: bool = False) -> CatExchange | None:
        async with translating("get exchange kind"):
            result = await self._session.execute(select(CatExchange).where(CatExchange.name == name))
            cat = result.scalar_one_or_none()
            if cat is None and create:
                cat = CatExchange(name=name)
                self._session.add(cat)
                await self._session.flush()
            return cat

    async def add(
        self,
        uid: int,
        cat_exchange: str,
        name: str,
        *,
        test: bool = False,
        active: bool = True,
        force_rest: bool = False,
    ) -> Exchange:
        """``cat_exchange`` is the ccxt id; its ``cat_exchanges`` row is created on first use."""
        cat = await self.get_cat_exchange(cat_exchange, create=True)
        assert cat is not None
        exchange = Exchange(
            uid=uid, cat_ex_id=cat.cat_ex_id, name=name, test=test, active=active, force_rest=force_rest
        )
        exchange.cat_exchange = cat
        async with translating("add exchange"):
            self._session.add(exchange)
            await self._session.flush()
        return exchange

    async def set_active(self, ex_id: int, active: bool) -> bool:
        """False when no such exchange."""
        async with translating("set exchange active"):
            result = await self._session.execute(
                update(Exchange)
                .where(Exchange.ex_id == ex_id)
                .values(active=active)
                .execution_options(synchronize_session="fetch")
            )
            return bool(getattr(result, "rowcount", 0))

    async def remove(self, ex_id: int) -> bool:
        """False when no such exchange. Its orders and trades stay: they are history."""
        async with translating("remove exchange"):
            result = await self._session.execute(
                delete(Exchange).where(Exchange.ex_id == ex_id).execution_options(synchronize_session="fetch")
            )
            return bool(getattr(result, "rowcount", 0))
