"""``DatabaseContext``: one session and its repositories, fullon_orm style.

``async with DatabaseContext(factory) as db`` opens a session; leaving the block commits what is
pending, or rolls back when the block raised. ``DatabaseContext()`` with no factory builds an
engine from ``Settings.from_env()`` and disposes it on exit, so fullon tools can keep their
zero-argument habit; services pass their factory in and share one engine.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fullon_account_service.settings import Settings
from fullon_account_service.storage.db.engine import make_engine, make_session_factory
from fullon_account_service.storage.db.errors import translating
from fullon_account_service.storage.db.repositories.exchanges import ExchangeRepository
from fullon_account_service.storage.db.repositories.ledger import LedgerRepository
from fullon_account_service.storage.db.repositories.orders import OrderRepository
from fullon_account_service.storage.db.repositories.trades import TradeRepository
from fullon_account_service.storage.db.repositories.users import UserRepository


class DatabaseContext:
    users: UserRepository
    exchanges: ExchangeRepository
    orders: OrderRepository
    ledger: LedgerRepository

    def __init__(self, session_factory: async_sessionmaker[AsyncSession] | None = None) -> None:
        self._factory = session_factory
        self._owned_engine: AsyncEngine | None = None
        self._session: AsyncSession | None = None
        self._trades: TradeRepository | None = None

    async def __aenter__(self) -> Self:
        if self._factory is None:
            self._owned_engine = make_engine(Settings.from_env().database_url)
            self._factory = make_session_factory(self._owned_engine)
        self._session = self._factory()
        self.users = UserRepository(self._session)
        self.exchanges = ExchangeRepository(self._session)
        self.orders = OrderRepository(self._session)
        self.ledger = LedgerRepository(self._session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session, self._session, self._trades = self._session, None, None
        try:
            if session is not None:
                if exc_type is None:
                    async with translating("commit"):
                        await session.commit()
                else:
                    await session.rollback()
        finally:
            if session is not None:
                await session.close()
            if self._owned_engine is not None:
                await self._owned_engine.dispose()
                self._owned_engine, self._factory = None, None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("DatabaseContext is not entered: use 'async with DatabaseContext() as db'")
        return self._session

    @property
    def trades(self) -> TradeRepository:
        if self._trades is None:
            self._trades = TradeRepository(self.session)
        return self._trades

    async def commit(self) -> None:
        async with translating("commit"):
            await self.session.commit()

    async def rollback(self) -> None:
        async with translating("rollback"):
            await self.session.rollback()
