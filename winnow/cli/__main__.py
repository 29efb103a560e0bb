"""`python -m winnow.cli`: the `winnow` command."""

from . import main

raise SystemExit(main())
