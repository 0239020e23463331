from runtime.service import main
from services.complaints.bootstrap import spec
from services.complaints.settings import ComplaintsSettings

settings = ComplaintsSettings()  # database_url etc. come from the environment
main(spec(settings), settings)
