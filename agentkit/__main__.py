"""`python -m agentkit` is the `agentkit` command."""

from ._cli import main

raise SystemExit(main())
