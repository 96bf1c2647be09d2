"""The staff side composed from every app: the admin's invoice page and the demo data."""
