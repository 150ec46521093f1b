"""The Celery app that `redstar worker QUEUE` serves (`celery -A redstar_assets.deploy.celery_worker worker`):
dagster-celery's step task on the REDSTAR_CELERY_BROKER broker, with the queue settings of the
profile REDSTAR_PROFILE names, the same profile the code location and the run workers build."""

from redstar_assets.config.profile import profile_from_env
from redstar_assets.deploy.celery_queue import worker_app
from redstar_assets.deploy.dagster_celery_internals import step_task

_profile = profile_from_env()
app = worker_app(_profile.launch.celery.queue_names())
execute_plan = step_task(app)
