from runtime.service import main
from services.notifications.bootstrap import NotificationsSettings, spec

settings = NotificationsSettings()  # database_url etc. come from the environment
main(spec(settings), settings)
