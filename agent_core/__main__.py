"""``python -m agent_core``: see agent_core/cli.py."""

from agent_core.cli import main

raise SystemExit(main())
