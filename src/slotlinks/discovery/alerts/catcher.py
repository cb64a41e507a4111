"""A local SMTP catcher for the demo: every message it takes becomes an `.eml` file, nothing is sent on.

`slotlinks demo` runs one so alert messages can be read without a real mail server (the README says
where they land). It speaks just enough SMTP (RFC 5321) for `smtplib`: HELO/EHLO, MAIL, RCPT, DATA
with dot-unstuffing, RSET, NOOP, QUIT, on a loopback port. Not for production: no TLS, no limits
beyond a message's size.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

__all__ = ["MailCatcher"]

MAX_MESSAGE_BYTES = 1024 * 1024


class MailCatcher:
    """Writes each message it receives to `folder` as `<time>-<n>.eml`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._numbers = itertools.count(1)

    async def serve(self, host: str, port: int) -> asyncio.Server:
        self.folder.mkdir(parents=True, exist_ok=True)
        return await asyncio.start_server(self._session, host, port)

    def _keep(self, data: bytes) -> Path:
        path = self.folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{next(self._numbers):04d}.eml"
        path.write_bytes(data)
        return path

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        try:
            await say("220 slotlinks demo mail catcher")
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb in {b"HELO", b"EHLO"}:
                    await say("250 slotlinks")
                elif verb in {b"MAIL", b"RCPT", b"RSET", b"NOOP"}:
                    await say("250 OK")
                elif verb == b"DATA":
                    await say("354 End data with <CR><LF>.<CR><LF>")
                    await say(await self._data(reader))
                elif verb == b"QUIT":
                    await say("221 Bye")
                    break
                else:
                    await say("502 Command not implemented")
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _data(self, reader: asyncio.StreamReader) -> str:
        lines: list[bytes] = []
        size = 0
        while (line := await reader.readline()) not in {b".\r\n", b".\n", b""}:
            size += len(line)
            if size <= MAX_MESSAGE_BYTES:
                lines.append(line[1:] if line.startswith(b".") else line)
        if size > MAX_MESSAGE_BYTES:
            return "552 Message too large"
        path = await asyncio.to_thread(self._keep, b"".join(lines))
        return f"250 OK kept as {path.name}"
