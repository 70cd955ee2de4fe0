"""Runs *inside* the sandbox for `run_tests`: copy the project into the private tmpfs, run the command, report.

Executed as a script by the project's interpreter; imports nothing from agentkit. Protocol: stdin carries one
JSON object `{"argv", "exclude", "junit", "result_fd"}`; the test command inherits stdout and stderr; at the end
one JSON object `{"returncode", "junit", "copy_errors"}` goes to the result fd. The copy lives on a size-capped
tmpfs, so tests may write freely and nothing reaches the real workspace.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys

SOURCE, DEST = "/src", "/workspace"


def copy_project(exclude: list[str]) -> list[str]:
    errors: list[str] = []

    def copy(src: str, dst: str) -> None:
        try:
            shutil.copy2(src, dst)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise
            errors.append(f"{src[len(SOURCE) + 1:]}: {exc.strerror}")

    try:
        shutil.copytree(SOURCE, DEST, symlinks=True, ignore=shutil.ignore_patterns(*exclude), copy_function=copy,
                        dirs_exist_ok=True)
    except shutil.Error as exc:  # the tmpfs root's own mode and times cannot be copied: not worth a note
        errors.extend(f"{item[0][len(SOURCE) + 1:]}: {item[2]}" for item in exc.args[0][:20] if item[0] != SOURCE)
    return errors


def main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    result_fd = int(request["result_fd"])
    os.set_inheritable(result_fd, False)  # the tests never see the result pipe
    try:
        copy_errors = copy_project(list(request["exclude"]))
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        report = {"returncode": None, "junit": None, "copy_errors": [
            "the project does not fit in the sandbox's disk limit; raise disk_mb or exclude large files"]}
        os.write(result_fd, json.dumps(report).encode())
        return 3
    os.chdir(DEST)
    sys.stdout.flush()
    completed = subprocess.run(list(request["argv"]), stdin=subprocess.DEVNULL, check=False)
    junit = None
    try:
        with open(request["junit"], "rb") as handle:
            junit = handle.read(2_000_000).decode("utf-8", "replace")
    except OSError:
        pass
    payload = json.dumps({"returncode": completed.returncode, "junit": junit, "copy_errors": copy_errors[:20]})
    view = memoryview(payload.encode())
    while view:
        view = view[os.write(result_fd, view):]
    return 0


if __name__ == "__main__":
    sys.exit(main())
