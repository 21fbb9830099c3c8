"""Write the image's hash-pinned dependency locks with pip-tools.

    .venv/bin/pip install -e '.[lock]'
    .venv/bin/python scripts/lock_requirements.py            # keeps today's pins, refreshes hashes
    .venv/bin/python scripts/lock_requirements.py --upgrade  # moves every pin to the newest allowed

requirements.lock: the runtime closure of [project].dependencies in pyproject.toml (test tools never
enter it), every distribution pinned with `==` and the sha256 of each of its files on the index, so
that `pip install --require-hashes` in the Dockerfile refuses anything else.

requirements-build.lock: the build stage's setuptools and wheel, pinned and hashed the same way.

pip-compile starts from the pins already in the output file: without --upgrade, a re-run changes
only what pyproject.toml forces to change. Behind a package mirror, set PIP_INDEX_URL as for pip.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The build stage's tools, exact (Dockerfile, build stage). Change a version here, then re-run.
BUILD_TOOLS = ("setuptools==80.9.0", "wheel==0.45.1")
COMMAND = "python scripts/lock_requirements.py"


def _compile(source: Path, output: Path, upgrade: bool, allow_unsafe: bool = False) -> int:
    exe = shutil.which("pip-compile", path=str(Path(sys.executable).parent)) or shutil.which("pip-compile")
    if exe is None:
        print("pip-compile not found: .venv/bin/pip install -e '.[lock]'", file=sys.stderr)
        return 1
    args = [
        exe,
        "--quiet",
        "--generate-hashes",
        "--strip-extras",
        "--no-emit-index-url",
        "--no-emit-trusted-host",
        "--no-emit-find-links",
        "--output-file",
        str(output.relative_to(ROOT)),
    ]
    if allow_unsafe:  # the build lock: setuptools is what it pins; its source is a temporary file
        args += ["--allow-unsafe", "--no-annotate"]
    if upgrade:
        args.append("--upgrade")
    args.append(str(source))
    # pip-compile writes this command into the file's header instead of its own command line.
    env = dict(os.environ, CUSTOM_COMPILE_COMMAND=COMMAND)
    return subprocess.run(args, cwd=ROOT, env=env, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--upgrade", action="store_true", help="move pins to the newest allowed versions")
    args = parser.parse_args(argv)
    rc = _compile(Path("pyproject.toml"), ROOT / "requirements.lock", args.upgrade)
    if rc:
        return rc
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "requirements-build.in"
        source.write_text("\n".join(BUILD_TOOLS) + "\n")
        return _compile(source, ROOT / "requirements-build.lock", args.upgrade, allow_unsafe=True)


if __name__ == "__main__":
    raise SystemExit(main())
