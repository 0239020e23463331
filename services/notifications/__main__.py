from runtime.service import main
from services.notifications.bootstrap import SPEC, NotificationsSettings

main(SPEC, NotificationsSettings())  # database_url etc. come from the environment
