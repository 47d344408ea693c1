import sys

from zlv_dwh.demo.run import main

sys.exit(main())
