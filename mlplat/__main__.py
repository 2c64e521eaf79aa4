"""`python -m mlplat` is the `mlplat` command."""

from mlplat.cli import main

raise SystemExit(main())
