import pytest
from django.core.management import CommandError, call_command


@pytest.mark.django_db
def test_run_periodic_jobs_runs_every_beat_entry(capsys):
    call_command("run_periodic_jobs")
    out = capsys.readouterr().out
    assert "maintenance-flag-overdue: 0" in out


@pytest.mark.django_db
def test_run_periodic_jobs_refuses_unknown_names():
    with pytest.raises(CommandError, match="Unknown job"):
        call_command("run_periodic_jobs", only=["no-such-job"])
