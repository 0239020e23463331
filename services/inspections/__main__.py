from runtime.service import main
from services.inspections.bootstrap import SPEC, InspectionsSettings

main(SPEC, InspectionsSettings())  # type: ignore[call-arg]  # database_url comes from the environment
