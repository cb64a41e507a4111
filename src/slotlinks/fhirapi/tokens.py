"""Token search (http://hl7.org/fhir/R4/search.html#token): `code`, `system|code`, `|code`, `system|`.

A token matches a Coding (system + code), an Identifier (system + value), a code or a boolean.
Codes compare case-sensitively, as FHIR codes are; booleans are `true` / `false`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from slotlinks.fhirapi.params import invalid

__all__ = ["Token", "codings_of", "parse_token", "token_matches"]


@dataclass(frozen=True, slots=True)
class Token:
    """A parsed token value. `system` None: any system; "" (from `|code`): no system.
    `code` None (from `system|`): any code in that system."""

    system: str | None
    code: str | None

    def matches(self, system: str | None, code: str | None) -> bool:
        if self.system is not None and (system or "") != self.system:
            return False
        return self.code is None or code == self.code


def parse_token(param: str, text: str) -> Token:
    """Parses one token value (one item of a comma-separated list)."""
    if not text or text == "|":
        raise invalid(param, "empty token; expected code, system|code, |code or system|")
    if "|" not in text:
        return Token(None, text)
    system, _, code = text.partition("|")
    if "|" in code:
        raise invalid(param, f"{text!r} has more than one '|'")
    return Token(system, code or None)


def codings_of(value: Any) -> Iterator[tuple[str | None, str | None]]:
    """(system, code) pairs of a CodeableConcept, Coding, Identifier, code or boolean (or lists of them)."""
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            yield from codings_of(item)
    elif isinstance(value, bool):
        yield None, "true" if value else "false"
    elif isinstance(value, str):
        yield None, value
    elif isinstance(value, dict):
        if "coding" in value:
            yield from codings_of(value["coding"])
        elif "value" in value and "code" not in value:  # Identifier
            yield value.get("system"), value.get("value")
        else:  # Coding
            yield value.get("system"), value.get("code")


def token_matches(tokens: Iterable[Token], value: Any) -> bool:
    """True when any of the tokens (an OR list) matches any coding of `value`."""
    pairs = list(codings_of(value))
    return any(token.matches(system, code) for token in tokens for system, code in pairs)
