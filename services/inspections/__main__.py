from runtime.service import main
from services.inspections.bootstrap import SPEC, InspectionsSettings

main(SPEC, InspectionsSettings())  # database_url etc. come from the environment
