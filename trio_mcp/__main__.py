"""`python -m trio_mcp serve module:app`: the same as the `trio-mcp` command."""

import sys

from ._cli import main

sys.exit(main())
