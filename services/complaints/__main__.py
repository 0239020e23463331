from runtime.service import main
from services.complaints.bootstrap import ComplaintsSettings, spec

settings = ComplaintsSettings()  # database_url etc. come from the environment
main(spec(settings), settings)
