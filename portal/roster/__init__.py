"""Rostering services: the SIS connection, its encrypted secret, and starting or approving syncs."""
