from runtime.service import main
from services.exposure.bootstrap import spec
from services.exposure.settings import ExposureSettings

settings = ExposureSettings()  # database_url etc. come from the environment
main(spec(settings), settings)
