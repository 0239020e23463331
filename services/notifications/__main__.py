from runtime.service import main
from services.notifications.bootstrap import spec
from services.notifications.settings import NotificationsSettings

settings = NotificationsSettings()  # database_url etc. come from the environment
main(spec(settings), settings)
