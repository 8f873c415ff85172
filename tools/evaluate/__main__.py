"""`python -m tools.evaluate extraction|entities|dedup ...`: see `tools.evaluate.cli`."""

from tools.evaluate.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
