"""Load the Harbin demo: districts, schools, bell schedules, accounts, then each app's demo data
(equipment: catalogue, spaces, kits, assets, qualifications, tickets). Deterministic and
idempotent: a second run changes nothing."""

from django.conf import settings
from django.core.management.base import BaseCommand

from booking import demo as booking_demo
from equipment import demo as equipment_demo
from schools import demo as schools_demo


class Command(BaseCommand):
    help = "Load the deterministic Harbin demo data (idempotent)."

    def handle(self, *args, **options):
        report = schools_demo.SeedReport()
        schools_demo.seed_demo(report)
        for _name, extra in self._app_seeders():
            extra(report)
        created = ", ".join(f"{k} {v}" for k, v in sorted(report.created.items())) or "nothing"
        updated = ", ".join(f"{k} {v}" for k, v in sorted(report.updated.items())) or "nothing"
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded. Created: {created}. Updated: {updated}."))
        if options["verbosity"] >= 1:
            self.stdout.write(f"Demo logins, password {settings.DEMO_PASSWORD!r}:")
            for username, role, school, _name in schools_demo.NAMED_ACCOUNTS:
                where = f" ({school})" if school else ""
                self.stdout.write(f"  {username:<18} {role}{where}")

    def _app_seeders(self):
        # Each app's seeder, in import order (equipment, then bookings): imports point down.
        return [("equipment", equipment_demo.seed_demo), ("booking", booking_demo.seed_demo)]
