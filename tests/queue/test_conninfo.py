"""``queue.conninfo``: a DATABASE_URL (from the environment or .env) becomes a libpq string or one ConfigError."""

from __future__ import annotations

import psycopg
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_core.errors import ConfigError
from agent_core.queue import conninfo

PARTS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


@settings(max_examples=200, deadline=None)
@given(user=PARTS, password=PARTS, host=PARTS, database=PARTS, search_path=PARTS)
def test_any_postgres_url_keeps_its_parts_or_is_refused_in_one_line(
    user: str, password: str, host: str, database: str, search_path: str
) -> None:
    from urllib.parse import quote

    url = (
        f"postgresql+psycopg://{quote(user, safe='')}:{quote(password, safe='')}@{quote(host, safe='')}:5432/"
        f"{quote(database, safe='')}?options={quote('-csearch_path=' + search_path, safe='')}"
    )
    try:
        info = conninfo(url)
    except ConfigError as error:
        assert "\n" not in str(error)
        return
    parsed = psycopg.conninfo.conninfo_to_dict(info)
    assert parsed.get("user", "") == user and parsed.get("password", "") == password
    assert parsed.get("dbname", "") == database and parsed["options"].startswith(f"-csearch_path={search_path}")


@given(st.text(max_size=60))
def test_anything_else_is_a_config_error_never_a_crash(text: str) -> None:
    try:
        conninfo(text)
    except ConfigError as error:
        assert "\n" not in str(error)
