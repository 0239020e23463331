"""Events of campaigns and activity plans (produced by the inspections service)."""
