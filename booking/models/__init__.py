"""The booking app's models, one module per concern."""

from .bookings import (  # noqa: F401
    ACTIVE_STATUSES,
    Booking,
    BookingEvent,
    BookingStatus,
    Closure,
    EquitySettings,
    IdempotencyRecord,
    SchoolQuota,
    Series,
    WaitlistEntry,
)
from .holidays import HolidayYear, OfficialDay  # noqa: F401
from .notifications import CalendarFeed, Notification, NotificationKind, NotificationPreference  # noqa: F401
from .rotation import CustodyEvent, Handover, HandoverCheck, Placement, RotationPlan, RotationRequest  # noqa: F401
from .usage import DailyUsage, MonthlyReport, UsageDay  # noqa: F401
