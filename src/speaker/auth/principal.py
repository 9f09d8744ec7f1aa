"""The caller of a request, as its API key (or the absence of auth) describes it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a key may do; each role includes the ones below it."""

    READONLY = "readonly"
    USER = "user"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Position in the order readonly < user < admin."""
        return list(Role).index(self)


@dataclass(frozen=True)
class Principal:
    """A request's caller: a key and its owner, or anonymous when auth is off."""

    role: Role
    key_id: str | None = None
    owner: str | None = None

    def allows(self, needed: Role) -> bool:
        """True when this caller's role includes `needed`."""
        return self.role.rank >= needed.rank

    def sees(self, owner: str | None, shared: bool) -> bool:
        """True when a resource of `owner` (shared or not) is visible to this caller."""
        return shared or owner is None or self.role is Role.ADMIN or owner == self.owner

    def manages(self, owner: str | None) -> bool:
        """True when this caller may change or delete a resource of `owner`.

        Sharing lets others use a resource, not change it; resources without an owner (made
        with auth off, or dropped into the voices folder) are left to admins.
        """
        return self.role is Role.ADMIN or (owner is not None and owner == self.owner)


ANONYMOUS = Principal(role=Role.ADMIN)
"""The caller when auth is off: one user who owns everything."""
