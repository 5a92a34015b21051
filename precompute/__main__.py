from precompute.cli import main

raise SystemExit(main())
