from runtime.service import main
from services.exposure.bootstrap import ExposureSettings, SPEC

main(SPEC, ExposureSettings())  # type: ignore[call-arg]  # database_url comes from the environment
