"""The booking app's models, one module per concern."""

from .holidays import HolidayYear, OfficialDay  # noqa: F401
