"""`python -m bot` is the `licence-bot` command."""

from bot.cli import main

raise SystemExit(main())
