"""``jupyter rangevideo export ...`` (the ``jupyter-rangevideo`` script) and ``python -m jupyter_rangevideo``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help") or args[0] != "export":
        print(
            "usage: jupyter rangevideo export NOTEBOOK [-o OUT] [--single-file] [--max-height H] [--crf Q] "
            "[--preview]\n\nExport a notebook with players to a folder (or one HTML file) that plays anywhere.",
            file=sys.stderr if args and args[0] not in ("-h", "--help") else sys.stdout,
        )
        return 0 if args and args[0] in ("-h", "--help") else 2
    from .share import main as export_main

    return export_main(args[1:])


if __name__ == "__main__":
    sys.exit(main())
