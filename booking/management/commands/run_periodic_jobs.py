"""Run every periodic job of CELERY_BEAT_SCHEDULE once, in this process.

For the embedded default (no Redis, no beat): cron or a person runs this instead of beat.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run each periodic job (CELERY_BEAT_SCHEDULE) once, in-process."

    def add_arguments(self, parser):
        parser.add_argument(
            "--only", action="append", default=[], help="run only this schedule entry (repeatable)"
        )

    def handle(self, *args, only, **options):
        from config.celery import app

        app.loader.import_default_modules()  # registers every app's tasks
        schedule = settings.CELERY_BEAT_SCHEDULE
        unknown = sorted(set(only) - schedule.keys())
        if unknown:
            raise CommandError(f"Unknown job(s): {', '.join(unknown)}. Known: {', '.join(sorted(schedule))}.")
        for name, entry in schedule.items():
            if only and name not in only:
                continue
            task = app.tasks[entry["task"]]
            result = task.apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}))
            if result.failed():
                raise CommandError(f"{name} failed: {result.result!r}")
            self.stdout.write(f"{name}: {result.result}")
