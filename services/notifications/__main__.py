from runtime.service import main
from services.notifications.bootstrap import SPEC, NotificationsSettings

main(SPEC, NotificationsSettings())  # type: ignore[call-arg]  # database_url comes from the environment
