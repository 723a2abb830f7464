"""`python -m haconsole.agent`: the agent without the rest of the CLI (labs, tests)."""

from haconsole.agent.cli import main

raise SystemExit(main())
