from runtime.service import main
from services.inspections.bootstrap import InspectionsSettings, spec

settings = InspectionsSettings()  # database_url etc. come from the environment
main(spec(settings), settings)
