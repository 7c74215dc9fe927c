from nodecode.cli.main import main

raise SystemExit(main())
