"""Run every Python block of the user guide, docs/scaling.md and README.md.

Each page's ```python blocks run in order, as one script, in a fresh
process (a page's later blocks may use its earlier ones; pages never share
state), with a small thread count and a time limit. Usage::

    python docs/run_code_blocks.py [PAGE ...]

Prints one line per page and a closing "N passed, N failed" line; exits 1
if any page failed. A block whose first line is ``# not run: <reason>`` is
skipped (for a block that needs a GPU or a running cluster), and counted.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [
    *sorted((ROOT / "docs" / "user_guide").glob("*.md")),
    ROOT / "docs" / "scaling.md",
    ROOT / "README.md",
]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)
SKIP = "# not run:"
LIMIT_S = 600


def page_script(page: pathlib.Path) -> tuple[str, int, int]:
    """The page's runnable blocks as one script, with counts (run, skipped)."""
    run, skipped, parts = 0, 0, []
    for match in BLOCK.finditer(page.read_text()):
        code = match.group(1)
        if code.lstrip().startswith(SKIP):
            skipped += 1
            continue
        line = page.read_text()[: match.start()].count("\n") + 2
        parts.append(f"# --- {page.name}:{line}\n{code}")
        run += 1
    # matplotlib without a display; figures are drawn, never shown
    head = "import matplotlib\nmatplotlib.use('Agg')\n" if parts else ""
    return head + "\n".join(parts), run, skipped


def run_page(page: pathlib.Path) -> tuple[bool, str]:
    script, run, skipped = page_script(page)
    if not run:
        return True, f"no blocks ({skipped} not run)"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / f"{page.stem}.py"
        path.write_text(script)
        start = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, str(path)],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                timeout=LIMIT_S,
            )
        except subprocess.TimeoutExpired:
            return False, f"timed out after {LIMIT_S} s"
        took = time.perf_counter() - start
    if done.returncode != 0:
        return False, f"{run} blocks, failed in {took:.0f} s:\n{done.stderr[-3000:]}"
    return True, f"{run} blocks in {took:.0f} s ({skipped} not run)"


def main(argv: list[str]) -> int:
    pages = [pathlib.Path(p).resolve() for p in argv] or PAGES
    failed = 0
    for page in pages:
        ok, what = run_page(page)
        failed += not ok
        mark = "ok  " if ok else "FAIL"
        print(f"{mark} {page.relative_to(ROOT)}: {what}", flush=True)
    print(f"docs: {len(pages) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
