from haconsole.cli import main

raise SystemExit(main())
