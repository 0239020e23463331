from runtime.service import main
from services.complaints.bootstrap import SPEC, ComplaintsSettings

main(SPEC, ComplaintsSettings())  # database_url etc. come from the environment
