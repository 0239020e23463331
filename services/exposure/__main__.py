from runtime.service import main
from services.exposure.bootstrap import ExposureSettings, spec

settings = ExposureSettings()  # database_url etc. come from the environment
main(spec(settings), settings)
