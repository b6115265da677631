import sys

from collectors.distributed.cli import main

sys.exit(main())
