"""Icons and styles of the desktop app; installed as the ``vehicleapp.assets`` package."""
