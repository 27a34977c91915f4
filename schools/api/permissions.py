from rest_framework.permissions import SAFE_METHODS, BasePermission


class IsCentreAdmin(BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_centre_admin)


class ReadAnyWriteCentreAdmin(BasePermission):
    """Any authenticated user reads; only centre admins write."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or request.user.is_centre_admin


class ManagesAccounts(BasePermission):
    """Centre admins and school admins manage accounts; others may not list them."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_centre_admin or user.is_school_admin))


class ReadAnyWriteAdmins(BasePermission):
    """Any authenticated user reads; school and centre admins write (the service scopes the school)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or user.is_centre_admin or user.is_school_admin


class IsAdminOrAnalyst(BasePermission):
    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and (user.is_centre_admin or user.is_school_admin or user.is_analyst)
        )
