from vehicleapp.app import main

raise SystemExit(main())
