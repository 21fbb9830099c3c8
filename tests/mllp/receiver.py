"""A stand-in for the interface engine that receives interpretations: an MLLP server (python-hl7)
that files each message's MSH-10 and OBR-20 (the inbound control id) in a record file, then answers
AA. Run as a process so that a test can kill it: ``python receiver.py --fd N --record FILE``.

``--die-at K``: on receiving its K-th message this process kills itself with SIGKILL before filing or
acknowledging it, as a crash mid-exchange would. ``--fd`` is a listening socket inherited from the
test, so that the port stays bound (connections wait in its backlog) while no receiver runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket

from hl7.mllp import start_hl7_server


def fields_of(message: str) -> tuple[str, str]:
    """(MSH-10, OBR-20) of an ER7 message."""
    segments = [s for s in message.split("\r") if s]
    sep = segments[0][3]
    msh = segments[0].split(sep)
    obr = next((s.split(sep) for s in segments if s.startswith("OBR" + sep)), [])
    return msh[9], (obr[20] if len(obr) > 20 else "")


def ack(message: str, code: str = "AA") -> bytes:
    control_id, _ = fields_of(message)
    return (
        f"MSH|^~\\&|ENGINE|HOSP|MGI|HOSP|20240101000000||ACK^R01^ACK|R{control_id}|P|2.5.1\r"
        f"MSA|{code}|{control_id}\r"
    ).encode()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--die-at", type=int, default=0)
    args = parser.parse_args()
    sock = socket.socket(fileno=args.fd)
    received = 0
    record = open(args.record, "a", buffering=1)  # noqa: SIM115 - open for the process's life

    async def on_connection(reader, writer):
        nonlocal received
        try:
            while True:
                block = await reader.readblock()
                received += 1
                if received == args.die_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                text = block.decode("utf-8")
                control_id, inbound = fields_of(text)
                record.write(f"{control_id} {inbound}\n")
                writer.writeblock(ack(text))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await start_hl7_server(on_connection, sock=sock)
    print("receiver ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
