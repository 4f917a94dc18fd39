from sereno.cli import main

raise SystemExit(main())
