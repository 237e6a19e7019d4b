"""A large revision's ``pt.check`` in a process of its own, its findings kept in files.

At a million images the check's peak is about 3 GB (the bone-length statistics hold every
measured skeleton line), twice the server's whole budget, and while it runs in the server's
own interpreter it holds the lock every page needs. So the dashboard runs it here: a child
Python (``python -m posetable.dashboard._check_process``) opens the revision, checks it
(from its parent's kept findings and the rows edited since, when given: the result is the
same as checking it all), writes the findings (``_findings_files``) and exits; the server
maps the files. The child's memory is handed back whole when it exits.

A revision never changes, so its findings are kept under the store's cache, in a folder
named by the table, the revision, when it was committed, the rules and the source of the
rule code: a server started later on the same store reads them instead of checking again,
and code with other rules never reads stale ones.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from posetable.sample import sample_table
    >>> table = sample_table(store=tempfile.mkdtemp())
    >>> done = check_in_process(table, Path(tempfile.mkdtemp()))
    >>> len(done.findings) > 0, done.peak_rss_mb > 0
    (True, True)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from posetable.dashboard._findings_files import FilesFindings, is_written, write_findings
from posetable.errors import PosetableError

if TYPE_CHECKING:
    from posetable.table import Table

#: the modules whose source decides what ``pt.check`` finds (part of each folder's key,
#: with posetable's version): paths under the package
_RULE_MODULES = (
    *(
        f"diagnose/{name}.py"
        for name in (
            "check",
            "_context",
            "_findings",
            "_flat",
            "_found",
            "_pieces",
            "_rules_points",
            "_rules_pose",
            "_rules_schema",
            "_sources",
        )
    ),
    "eval/oks.py",
    "eval/_columns.py",
    "_pairs.py",
    "schema.py",
)
_CODE_KEY: list[str] = []
#: how much lower the child's CPU priority is than the server's (POSIX ``nice``)
NICENESS = 10


def _code_key() -> str:
    """A hash of posetable's version and the check's own source files (once a process)."""
    if not _CODE_KEY:
        import posetable

        digest = hashlib.sha256(str(getattr(posetable, "__version__", "")).encode())
        package = Path(posetable.__file__).parent
        for name in _RULE_MODULES:
            digest.update((package / name).read_bytes())
        _CODE_KEY.append(digest.hexdigest()[:16])
    return _CODE_KEY[0]


def findings_folder(table: Table, root: Path, rules: tuple[str, ...]) -> Path:
    """Where ``root`` keeps the findings of ``rules`` on this revision of ``table``."""
    stamp = table.info.timestamp.isoformat() if table.info.timestamp else ""
    key = json.dumps([table.name, table.revision, stamp, list(rules), _code_key()])
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return Path(root) / f"{table.revision}-{digest}"


@dataclass(frozen=True)
class Checked:
    """A check done in a child process.

    Attributes:
        findings: the findings, mapped from their folder.
        peak_rss_mb: the child's peak resident memory (MB; 0 when the folder was kept).
        seconds: the child's wall time, start to exit (0 when the folder was kept).
        kept: the findings were already in their folder (no child ran).
    """

    findings: FilesFindings
    peak_rss_mb: float
    seconds: float
    kept: bool


def check_in_process(
    table: Table,
    root: Path,
    *,
    rules: tuple[str, ...] | None = None,
    previous: FilesFindings | None = None,
    changed_rows: np.ndarray | None = None,
) -> Checked:
    """The findings of ``rules`` (all by default) on ``table``, checked in a child process
    and kept under ``root`` (read from there when a check already put them there).

    With ``previous`` (the parent revision's findings, of the same rules) and
    ``changed_rows`` (the rows edited since), only those rows' per-row findings are found
    again. A child that fails or is killed is a :class:`PosetableError` with what it said.
    """
    from posetable.diagnose.check import RULES

    names = tuple(RULES) if rules is None else tuple(rules)
    folder = findings_folder(table, root, names)
    if is_written(folder):
        return Checked(FilesFindings(folder), 0.0, 0.0, True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "posetable.dashboard._check_process",
        "--store",
        str(table.store.root),
        "--table",
        table.ref,
        "--out",
        str(folder),
        "--rules",
        ",".join(names),
    ]
    with tempfile.TemporaryDirectory(prefix="posetable-check-") as work:
        if previous is not None and changed_rows is not None:
            changed = Path(work) / "changed.npy"
            np.save(changed, np.asarray(changed_rows, np.int64))
            command += ["--previous", str(previous.folder), "--changed", str(changed)]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=_child_env())
        seconds = time.perf_counter() - start
    if done.returncode != 0 or not is_written(folder):
        for partial in folder.parent.glob(f".{folder.name}.*.tmp"):  # a child killed mid-write
            shutil.rmtree(partial, ignore_errors=True)
        said = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise PosetableError(
            f"checking {table.ref} in a child process failed (exit status {done.returncode}): "
            + (" | ".join(said) if said else "it said nothing (killed, out of memory?)")
        )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return Checked(FilesFindings(folder), float(report["peak_rss_mb"]), seconds, False)


def _child_env() -> dict[str, str]:
    """The server's environment, with this posetable first on the child's path."""
    import posetable

    env = dict(os.environ)
    here = str(Path(posetable.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    return env


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MB (Linux ``VmHWM``; else ``ru_maxrss``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def main(argv: list[str] | None = None) -> int:
    """The child: check one revision, write its findings, print a JSON report line."""
    parser = argparse.ArgumentParser(prog="python -m posetable.dashboard._check_process")
    parser.add_argument("--store", required=True)
    parser.add_argument("--table", required=True, help="NAME@REV")
    parser.add_argument("--out", required=True)
    parser.add_argument("--rules", required=True)
    parser.add_argument("--previous")
    parser.add_argument("--changed")
    args = parser.parse_args(argv)
    if (args.previous is None) != (args.changed is None):
        parser.error("--previous and --changed go together")
    if hasattr(os, "nice"):  # background work: the server's pages come first for the CPU
        os.nice(NICENESS)

    from posetable.diagnose.check import check_findings
    from posetable.table import Table

    table = Table.open(args.table, store=args.store)
    names = [n for n in args.rules.split(",") if n]
    previous = changed = None
    if args.previous is not None:
        previous = FilesFindings(Path(args.previous)).full()
        changed = np.load(args.changed)
    found = check_findings(table, names, previous=previous, changed_rows=changed)
    write_findings(found, Path(args.out))
    print(json.dumps({"findings": len(found), "peak_rss_mb": round(_peak_rss_mb(), 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
