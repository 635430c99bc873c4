"""OneRoster 1.1 client, vendor profiles and a sandbox SIS; no Flask or database imports here."""
