"""Events of the inspections service."""
