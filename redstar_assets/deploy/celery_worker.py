"""The Celery app that `redstar worker QUEUE` serves (`celery -A redstar_assets.deploy.celery_worker worker`):
dagster-celery's step task on the REDSTAR_CELERY_BROKER broker, with the queue settings of the
profile REDSTAR_PROFILE names, the same profile the code location and the run workers build."""

from dagster_celery.tasks import create_task

from redstar_assets.config.profile import profile_from_env
from redstar_assets.deploy.celery_queue import worker_app

_profile = profile_from_env()
app = worker_app(_profile.launch.celery.queue_names())
execute_plan = create_task(app)
