"""``python -m service``: run the service locally under gunicorn in explicit development mode.

Development mode turns authentication off (with a warning at every start) and binds to loopback
only; a deployment uses docker-compose.yml, which refuses to start without API keys.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CONF = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"


def main() -> None:
    """Exec gunicorn with the project's settings, development mode on, bound to 127.0.0.1:8000."""
    os.environ["MGI_DEV_MODE"] = "1"
    os.environ.setdefault("MGI_BIND", "127.0.0.1:8000")
    os.environ.setdefault("MGI_WORKERS", "2")
    print(
        f"MGI development server on http://{os.environ['MGI_BIND']} (authentication OFF; Ctrl-C to stop)",
        file=sys.stderr,
    )
    args = [sys.executable, "-m", "gunicorn", "-c", str(CONF), "service.wsgi:app"]
    os.execv(sys.executable, args)


if __name__ == "__main__":
    main()
