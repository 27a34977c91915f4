"""API token authentication that loads what every request then reads: the user's school and its
district (teachers' rules ask whether their school is a county school), in one statement.

The statement is written once from the models' metadata and its rows are loaded with each field's
own database converters, exactly as `Token.objects.select_related("user__school__district")`
would load them: building that query through the ORM cost about 0.9 ms of CPU on every API
request, the statement itself 0.15 ms. On PostgreSQL it is a prepared statement: parsing and
planning the four-table join again for every request cost the server 0.3 ms, running it 0.04 ms
(measured in a loop of lookups; a booking POST's authentication went from 2.1 to 0.45 ms of CPU,
docs/benchmarks.md, booking over HTTP)."""

from __future__ import annotations

from functools import cache

from django.db import connections
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from config.db import fetch_prepared, model_columns, model_loader
from schools.models import District, School, User

_JOINS = (  # model, its alias, how it joins the row so far
    (Token, "t", None),
    (User, "u", 'INNER JOIN {table} u ON u."id" = t."user_id"'),
    (School, "s", 'LEFT OUTER JOIN {table} s ON s."id" = u."school_id"'),
    (District, "d", 'LEFT OUTER JOIN {table} d ON d."id" = s."district_id"'),
)


@cache
def _statement(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    columns, parts = [], []
    for model, table_alias, join in _JOINS:
        columns.append(model_columns(model, table_alias, alias))
        table = quote(model._meta.db_table)
        parts.append(f"FROM {table} t" if join is None else join.format(table=table))
    return f"SELECT {', '.join(columns)} {' '.join(parts)} WHERE t.{quote(Token._meta.pk.column)} = %s"


def _instances(alias: str, row) -> list:
    out, offset = [], 0
    for model, _table_alias, _join in _JOINS:
        width, load = model_loader(model, alias)
        values = row[offset : offset + width]
        offset += width
        # None: an outer join that found nothing (a user without a school)
        out.append(None if values[0] is None else load(values))
    return out


def token_with_user(key: str, alias: str = "default") -> Token | None:
    """The token with its user, the user's school and the school's district, or None."""
    sql = _statement(alias)
    if alias == "default" and connections[alias].vendor == "postgresql":
        rows = fetch_prepared(sql, [key])
        row = rows[0] if rows else None
    else:
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, [key])
            row = cursor.fetchone()
    if row is None:
        return None
    token, user, school, district = _instances(alias, row)
    if school is not None:
        school.district = district
    user.school = school
    token.user = user
    return token


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        token = token_with_user(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (token.user, token)
