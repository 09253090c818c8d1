"""A developer's mail server (`make run` starts it): every mail the outbox sends is kept as a
file in the instance folder's `mail/`, to read at /manage/mail; nothing leaves the machine.

Usage: python scripts/devmail.py [--port 8025] [--folder instance/mail]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent


class KeepAsFiles:
    """aiosmtpd handler: each message becomes `<time>-<n>.eml`, newest last."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.count += 1
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{self.count:04d}.eml"
        (self.folder / name).write_bytes(envelope.original_content)
        return "250 OK: kept on this machine"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("SMTP_PORT", "8025")))
    instance = Path(os.environ.get("INSTANCE_PATH") or ROOT / "instance")
    parser.add_argument("--folder", type=Path, default=instance / "mail")
    args = parser.parse_args()
    controller = Controller(KeepAsFiles(args.folder), hostname="127.0.0.1", port=args.port)
    controller.start()
    print(f"mail for 127.0.0.1:{args.port} is kept in {args.folder} (read it at /manage/mail)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
