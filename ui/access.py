"""Who may use the dashboard and who they are: the gate every page passes before it draws anything.

Three ways in, chosen by the settings (README, "Serving the dashboard to a team"):

- ``AGENT_DASHBOARD_PASSWORD`` set: a sign-in form asks for a name and the team's password
  (compared with ``hmac.compare_digest``); the name is the session's user, recorded as ``by``
  with every approval or denial made in that session.
- ``AGENT_DASHBOARD_USER_HEADER`` set (and no password): an authenticating proxy in front says
  who the user is in that request header. Only the operator's setting makes the header trusted;
  a connection without it (one that did not come through the proxy) is refused.
- neither: open, as before, but only while the server listens on a loopback address (as
  ``.streamlit/config.toml`` makes it); decisions are recorded as ``human``. On any other
  address the pages refuse to open and say how to fix it.

``gate()`` runs in app.py before the page, and again first thing in every page: until app.py
has run once in a server process, Streamlit serves a deep link straight from ``pages/``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import socket
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import NoReturn

import streamlit as st

from agent_core import AgentError, Settings
from ui import core, nav

LOCAL_USER = "human"  # who decides when nobody signs in: what the dashboard has always recorded
LOGIN_KEY = "access_login"  # a Login object: no widget can put one in session_state
NAME_FIELD = "access_name"
PASSWORD_FIELD = "access_password"
PROBLEM_KEY = "access_problem"  # why the last sign-in failed, shown once
NAME_MAX_CHARS = 64
USER_NAME = re.compile(rf"\w(?:[\w.@+ -]{{0,{NAME_MAX_CHARS - 2}}}[\w.@+-])?")  # no control character, no markup
FAILED_SIGN_IN_DELAY_S = 1.0  # slows guessing; a long random password is the real defence
WRONG = "Wrong name or password."
_PROCESS_KEY = secrets.token_bytes(32)  # a session keeps an HMAC of the password, never the password


class SignInRequired(AgentError):
    """The session is no longer signed in (the password changed, or it signed out in the meantime)."""

    def __init__(self) -> None:
        super().__init__("this session is not signed in any more, so nothing was recorded; reload the page and sign in")


@dataclass(frozen=True, slots=True)
class Login:
    """The session's user and how they got in: ``password``, ``proxy`` or ``loopback`` (nobody signs in)."""

    user: str
    via: str
    proof: bytes = b""  # the password's HMAC at sign-in: a changed password signs everyone out


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the pages do not open, and what the operator does about it."""

    what: str
    fix: str


# --- where the server listens ------------------------------------------------------------------


def bind_address() -> str | None:
    """``server.address`` as the running server has it: None or empty means every interface."""
    value = st.get_option("server.address")
    return str(value) if value else None


@lru_cache(maxsize=16)
def is_loopback(address: str | None) -> bool:
    """True only for addresses no other machine can reach: loopback IPs, ``localhost``, a Unix socket.

    Unset (every interface) is not. A host name counts only if every address it resolves to is loopback.
    """
    if not address:
        return False
    if address.startswith("unix://"):
        return True
    host = address.strip().removeprefix("[").removesuffix("]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if host.lower() == "localhost":
        return True
    try:
        resolved = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return False
    return bool(resolved) and all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in resolved)


# --- who is this session ---------------------------------------------------------------------


def _proof(password: str) -> bytes:
    return hmac.new(_PROCESS_KEY, password.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


def header_values(name: str) -> list[str]:
    """Every value of request header ``name`` on this session's connection (the WebSocket handshake)."""
    return [str(v).strip() for v in st.context.headers.get_all(name)]


def _header_user(name: str) -> str | Refusal:
    values = header_values(name)
    if len(values) != 1 or not values[0]:
        return Refusal(
            f"this connection carries {'no' if not values else 'more than one'} {name} header, so it did not "
            "come through the authenticating proxy that AGENT_DASHBOARD_USER_HEADER names.",
            "Open the dashboard through the proxy. Operators: make the proxy set that header (replacing any sent "
            "by the browser), and bind Streamlit where only the proxy can reach it.",
        )
    if not USER_NAME.fullmatch(values[0]):
        return Refusal(
            f"the proxy's {name} header is not a user name this dashboard records "
            f"(letters, digits, spaces and . _ @ + -, at most {NAME_MAX_CHARS} characters).",
            "Make the proxy pass the user's login name or e-mail address in that header.",
        )
    return values[0]


def admission(settings: Settings) -> Login | Refusal | None:
    """The session's login, a refusal, or None when the sign-in form is due. Draws nothing."""
    if settings.dashboard_password is not None:
        login = st.session_state.get(LOGIN_KEY)
        proof = _proof(settings.dashboard_password.get_secret_value())
        if isinstance(login, Login) and login.via == "password" and hmac.compare_digest(login.proof, proof):
            return login
        return None
    if settings.dashboard_user_header:
        user = _header_user(settings.dashboard_user_header)
        return user if isinstance(user, Refusal) else Login(user, "proxy")
    address = bind_address()
    if is_loopback(address):
        return Login(LOCAL_USER, "loopback")
    where = f"address {address}" if address else "every network interface (server.address is not set)"
    return Refusal(
        f"This dashboard is served on {where} without a login: anyone who can reach it could launch runs "
        "and approve held steps, so its pages stay closed.",
        "Set AGENT_DASHBOARD_PASSWORD (at least 12 characters) in the environment or .env and restart; "
        "or put an authenticating proxy in front and set AGENT_DASHBOARD_USER_HEADER to the header it "
        "passes the user in; or serve it on this machine only with --server.address 127.0.0.1 "
        "(as .streamlit/config.toml does).",
    )


def current() -> Login | None:
    """This session's login, or None: for code that acts (a decision) after the page's gate."""
    try:
        found = admission(core.settings())
    except AgentError:
        return None
    return found if isinstance(found, Login) else None


def approver() -> str:
    """Who is deciding, for the ``by`` of an approval or denial: the login, never a typed name.

    ``SignInRequired`` when the session is not admitted any more (say the password changed meanwhile).
    """
    login = current()
    if login is None:
        raise SignInRequired()
    return login.user


# --- the gate and the sign-in form ---------------------------------------------------------------


def gate() -> Login:
    """Admit this session or stop the script: with the sign-in form, a refusal, or a settings error.

    Every page calls it first, so it also puts a page opened outside app.py's navigation back inside it.
    """
    nav.through_app()
    try:
        settings = core.settings()
    except AgentError as error:  # unreadable settings: closed, with what to fix
        core.show_error(error)
        st.stop()
    found = admission(settings)
    if isinstance(found, Login):
        return found
    if found is None:
        sign_in_form()
    else:
        refuse(found)
    st.stop()


def recheck() -> None:
    """For fragments (which re-run without the page's gate): a session no longer admitted reruns the whole page."""
    if current() is None:
        st.rerun()


def refuse(refusal: Refusal) -> NoReturn:
    st.title("Agent workbench")
    st.error("The dashboard is closed", icon=":material/lock:")
    st.text(refusal.what)
    st.caption(refusal.fix)
    st.stop()


def sign_in() -> None:
    """Form callback: admit the session on the right name and password, else say why (and slow down)."""
    name = str(st.session_state.get(NAME_FIELD) or "").strip()
    given = str(st.session_state.get(PASSWORD_FIELD) or "")
    st.session_state[PASSWORD_FIELD] = ""  # the password does not stay in the session
    try:
        expected = core.settings().dashboard_password
    except AgentError:
        return  # the gate shows the settings error on this rerun
    if expected is None:
        return
    right = hmac.compare_digest(_proof(given), _proof(expected.get_secret_value()))
    if not right:
        time.sleep(FAILED_SIGN_IN_DELAY_S)
        st.session_state[PROBLEM_KEY] = WRONG
        return
    if not USER_NAME.fullmatch(name):
        st.session_state[PROBLEM_KEY] = (
            f"Your name is recorded with every decision you make: use letters, digits, spaces and . _ @ + - "
            f"(at most {NAME_MAX_CHARS} characters), like a login name or an e-mail address."
        )
        return
    st.session_state[LOGIN_KEY] = Login(name, "password", _proof(expected.get_secret_value()))
    st.session_state.pop(PROBLEM_KEY, None)


def sign_in_form() -> None:
    st.title("Sign in")
    st.caption(
        "This dashboard is shared: sign in with your name and the team's password. Your name is recorded "
        "with every approval or denial you make."
    )
    with st.form("access_sign_in", border=True, enter_to_submit=True):
        st.text_input("Name", key=NAME_FIELD, max_chars=NAME_MAX_CHARS, placeholder="e.g. alice or alice@example.com")
        st.text_input("Password", key=PASSWORD_FIELD, type="password")
        st.form_submit_button("Sign in", type="primary", icon=":material/login:", on_click=sign_in)
    problem = st.session_state.pop(PROBLEM_KEY, None)
    if problem:
        st.error(problem, icon=":material/error:")


def sign_out() -> None:
    st.session_state.pop(LOGIN_KEY, None)


def sidebar(login: Login) -> None:
    """Who is signed in (and a way out); on loopback without a login, that decisions say ``human``."""
    if login.via == "loopback":
        st.caption("Decisions are recorded as")
        st.text(f"{LOCAL_USER} (no sign-in on this machine)")
        return
    st.caption("Signed in as" if login.via == "password" else "Signed in through the proxy as")
    st.text(login.user)
    if login.via == "password":
        st.button("Sign out", key="access_sign_out", icon=":material/logout:", on_click=sign_out, type="tertiary")
