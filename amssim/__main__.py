from amssim.cli import main

raise SystemExit(main())
