"""People on a case: who they are, how to reach them, and how they see the case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.domain.roles import Role


@dataclass(frozen=True)
class Participant:
    """A person's place on one case."""

    id: str
    """Opaque identifier."""
    case_id: str
    """The case."""
    role: Role
    """Their role on this case."""
    display_name: str
    """Name shown to everyone on the case."""
    added_at: datetime
    """When they were added."""
    phone: str | None = None
    """Mobile number (personal data: never logged, hidden from other parties)."""
    email: str | None = None
    """E-mail address (personal data)."""
    id_number: str | None = None
    """Resident ID or passport number (personal data)."""
    account_id: str | None = None
    """The account of a mediator or judge; parties have none."""
    represents: str | None = None
    """For an agent: the participant they act for."""


def mask_id_number(value: str | None) -> str | None:
    """Keep the first 3 and last 4 characters of an ID number: ``330***********1234``."""
    if value is None:
        return None
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    """Keep the first 3 and last 4 digits of a phone number: ``138****5678``."""
    return mask_id_number(value)
