import sys

from mat_platform.cli import main

sys.exit(main())
