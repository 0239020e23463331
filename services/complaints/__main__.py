from runtime.service import main
from services.complaints.bootstrap import SPEC, ComplaintsSettings

main(SPEC, ComplaintsSettings())  # type: ignore[call-arg]  # database_url comes from the environment
