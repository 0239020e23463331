"""Events of the project registry (produced by the inspections service)."""
