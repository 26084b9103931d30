from shimmy_onboard.cli import main

raise SystemExit(main())
