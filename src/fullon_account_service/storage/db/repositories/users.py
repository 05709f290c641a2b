"""Users: the owners of exchange accounts (fullon's ``users`` table)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fullon_account_service.storage.db.errors import translating
from fullon_account_service.storage.db.models import User


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_all(self) -> list[User]:
        async with translating("get users"):
            result = await self._session.execute(select(User).order_by(User.uid))
            return list(result.scalars())

    async def get_by_mail(self, mail: str) -> User | None:
        async with translating("get user"):
            result = await self._session.execute(select(User).where(User.mail == mail))
            return result.scalar_one_or_none()

    async def add(
        self, mail: str, *, name: str = "", lastname: str = "", role: str = "user", active: bool = True
    ) -> User:
        """Flushed, so ``uid`` is known before the caller commits."""
        user = User(mail=mail, name=name, lastname=lastname, role=role, active=active)
        async with translating("add user"):
            self._session.add(user)
            await self._session.flush()
        return user
