"""Path parameters read alike by every route that takes them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

__all__ = ["MAX_PK", "RowPk"]

#: The largest pk a route accepts: both databases store pks as signed 64-bit integers, so a larger
#: number is refused before the store is asked (where it would overflow).
MAX_PK = 2**62

#: A row's pk in a path (`/locations/{pk}`, `/go/{pk}`, `/admin/publishers/{id}`): a positive integer.
RowPk = Annotated[int, Path(ge=1, le=MAX_PK)]
