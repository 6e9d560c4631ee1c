from query3d.cli import main

raise SystemExit(main())
