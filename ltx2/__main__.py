"""``python -m ltx2``: the CLI, imported inside ``run`` so that a Ctrl-C while it loads (torch can take
seconds) ends like one during a command: one ``error: interrupted`` line and exit status 130."""

import sys


def run() -> int:
    try:
        from .cli import main
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return main()


if __name__ == "__main__":
    sys.exit(run())
