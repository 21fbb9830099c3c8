"""Write deploy/kubernetes/proxy-configmap.yaml from the shipped nginx files (deploy/nginx/).

    .venv/bin/python scripts/render_proxy_configmap.py

The Kubernetes proxy runs exactly the configuration docker-compose.yml mounts: a test fails when the
ConfigMap and deploy/nginx/ differ, and this script brings the ConfigMap back in line.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NGINX = ROOT / "deploy" / "nginx"
OUT = ROOT / "deploy" / "kubernetes" / "proxy-configmap.yaml"
FILES = {
    "nginx.conf": NGINX / "nginx.conf",
    "mgi.conf": NGINX / "conf.d" / "mgi.conf",
    "mgi-upstream.conf": NGINX / "conf.d" / "mgi-upstream.conf",
}


def render() -> str:
    lines = [
        "# Generated from deploy/nginx/ by scripts/render_proxy_configmap.py: edit those files, then re-run.",
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        "  name: mgi-proxy-nginx",
        "  labels:",
        "    app.kubernetes.io/name: mgi",
        "    app.kubernetes.io/component: proxy",
        "data:",
    ]
    for key, path in FILES.items():
        text = path.read_text()
        if (
            not text.endswith("\n")
            or text.endswith("\n\n")
            or any(line != line.rstrip() for line in text.splitlines())
        ):
            raise SystemExit(
                f"{path}: one final newline and no trailing blanks, so YAML keeps it byte for byte"
            )
        lines.append(f"  {key}: |")
        lines += [f"    {line}" if line else "" for line in text.splitlines()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    OUT.write_text(render())
    print(f"wrote {OUT.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
