import sys

from kaudio.cli.main import main

sys.exit(main())
