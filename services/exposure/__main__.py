from runtime.service import main
from services.exposure.bootstrap import SPEC, ExposureSettings

main(SPEC, ExposureSettings())  # database_url etc. come from the environment
