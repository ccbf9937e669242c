"""Typed keys for everything the application shares between handlers."""

from __future__ import annotations

from aiohttp import web
from itsdangerous import URLSafeTimedSerializer

from collector.browser import Browser
from collector.config import Config
from collector.contacts import Contacts
from collector.definitions import Definitions
from collector.history import History
from collector.identity import Identity
from collector.keys import KeyRing
from collector.live import LiveFeed
from collector.login_throttle import LoginThrottle
from collector.pipeline import Pipeline
from collector.scenarios import Scenarios
from collector.segments import Segments
from collector.sessions import SessionSigner
from collector.storage import Storage
from collector.writer import Writer

CONFIG = web.AppKey("config", Config)
STORAGE = web.AppKey("storage", Storage)
DEFINITIONS = web.AppKey("definitions", Definitions)
WRITER = web.AppKey("writer", Writer)
PIPELINE = web.AppKey("pipeline", Pipeline)
KEYRING = web.AppKey("keyring", KeyRing)
CONTACTS = web.AppKey("contacts", Contacts)
SESSIONS = web.AppKey("sessions", SessionSigner)
HISTORY = web.AppKey("history", History)
IDENTITY = web.AppKey("identity", Identity)
BROWSER = web.AppKey("browser", Browser)
UI_SIGNER = web.AppKey("ui_signer", URLSafeTimedSerializer)
LIVE = web.AppKey("live", LiveFeed)
SEGMENTS = web.AppKey("segments", Segments)
SCENARIOS = web.AppKey("scenarios", Scenarios)
LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)
