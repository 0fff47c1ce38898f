"""`python -m wavecoder ...` (and `accelerate launch -m wavecoder train ...`): the CLI."""

from wavecoder.cli import main

raise SystemExit(main())
