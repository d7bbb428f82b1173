"""Who a message goes to: a phone number or a chat id, normalised to the chat id WhatsApp Web uses.

Accepted, and what they become:
- a phone number with its country code, as people write it: ``+1 555-010-1234``, ``15550101234``,
  ``+44 (20) 7946.0958``: digits with an optional leading ``+`` and spaces, dashes, dots or parentheses
  between them; 7 to 15 digits (E.164), not starting with 0 -> ``15550101234@c.us``;
- a person's chat id ``<digits>@c.us`` (``@s.whatsapp.net``, Baileys' spelling, becomes ``@c.us``), a
  hidden-number id ``<digits>@lid``, a group ``<digits>@g.us`` or ``<digits>-<digits>@g.us``.
Anything else (a national number like ``0612345678``, a name, ``status@broadcast``) is refused: a message
sent to the wrong number cannot be taken back, so watui never guesses a country code.
"""

from __future__ import annotations

import re

from watui.core.messages.errors import AddressError

_PHONE_CHARS = re.compile(r"\+?[0-9][0-9 ().\-]*")
_PERSON = re.compile(r"[1-9][0-9]{6,14}@(c\.us|s\.whatsapp\.net)")
_LID = re.compile(r"[0-9]{1,20}@lid")
_GROUP = re.compile(r"[0-9]{5,25}(-[0-9]{5,15})?@g\.us")
EXPECTED = "a phone number with its country code (+15550101234) or a chat id (…@c.us, …@g.us, …@lid)"


def normalise_to(value: object) -> str:
    """The chat id for ``value``; :class:`AddressError` (one line naming the value) when it is neither."""
    if not isinstance(value, str):
        raise AddressError(f"to: expected {EXPECTED}, got {value!r}")
    text = value.strip()
    if "@" in text:
        lowered = text.lower()
        if _PERSON.fullmatch(lowered):
            return lowered.split("@")[0] + "@c.us"
        if _LID.fullmatch(lowered) or _GROUP.fullmatch(lowered):
            return lowered
        raise AddressError(f"to: {value!r} is not a chat id: expected {EXPECTED}")
    if not _PHONE_CHARS.fullmatch(text):
        raise AddressError(f"to: {value!r} is not a phone number: expected {EXPECTED}")
    digits = re.sub(r"[^0-9]", "", text)
    if digits.startswith("0"):
        raise AddressError(
            f"to: {value!r} starts with 0: give the number with its country code (e.g. +44 20..., not 020...)"
        )
    if not 7 <= len(digits) <= 15:
        raise AddressError(f"to: {value!r} has {len(digits)} digits: a phone number with its country code has 7 to 15")
    return digits + "@c.us"
