"""A local mail server for the demo: prints every message and keeps it as instance/mail/*.eml.

Nothing is delivered anywhere; point MAIL_SERVER/MAIL_PORT here (the defaults already do).
"""
import argparse
import email
import sys
from datetime import datetime
from email.policy import default
from pathlib import Path

from aiosmtpd.controller import Controller
from foreground import wait_until_stopped

INSTANCE = Path(__file__).resolve().parent.parent / "instance"


class Sink:
    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = self.folder / f"{datetime.now():%Y%m%d-%H%M%S}-{self.count:03d}.eml"
        path.write_bytes(envelope.content)
        message = email.message_from_bytes(envelope.content, policy=default)
        text = message.get_body(preferencelist=("plain",))
        print(f"\n=== Mail to {', '.join(envelope.rcpt_tos)}: {message['Subject']}  (saved as {path})",
              flush=True)
        print(text.get_content() if text else "(no text part)", flush=True)
        return "250 Message accepted"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--folder", default=str(INSTANCE / "mail"))
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(Sink(folder), hostname=args.host, port=args.port)
    controller.start()
    print(f"SMTP sink listening on {args.host}:{args.port}; messages are kept in {folder}", flush=True)
    try:
        wait_until_stopped()
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
