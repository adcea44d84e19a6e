"""``backorders doctor``: every dependency checked once, one line each, before anything fails for real.

A token without a scope, a provider key that was rotated, a Redis that may evict queued messages,
a database behind on its migrations, no worker consuming a queue: each shows up otherwise as the
first failed poll or notice, hours later, as a dead letter. Here each becomes a line ``OK``,
``WARN`` or ``FAIL`` with what was found, so an operator fixes it before start-up.

Credentials are checked in two steps: the environment variable is set, then one cheap
authenticated call answers — the first page of the store's stock (what every poll asks first),
Mailgun's events of the sending domain, Twilio's newest message, SendGrid's key scopes. A connector
here makes no retries (``max_retries`` 0): the doctor reports, it does not wait out an outage.
Slack incoming webhooks have no read-only call; their URL is only checked to be set.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

OK, WARN, FAIL = "OK", "WARN", "FAIL"


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    status: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


def _short(exc: BaseException) -> str:
    """An error's text on one line, at most 300 characters."""
    return " ".join(str(exc).split())[:300]


def _guarded(name: str, run: Callable[[], Check | list[Check]]) -> list[Check]:
    """A check that raised is a FAIL naming the error, never the end of the report."""
    try:
        result = run()
    except Exception as exc:  # noqa: BLE001 - reported as the check's result
        return [Check(name, FAIL, f"{type(exc).__name__}: {_short(exc)}")]
    return result if isinstance(result, list) else [result]


# --- configuration, database, Redis, broker, workers -------------------------------------------


def check_config() -> Check:
    from domain.core.business_config import ConfigError, current_config
    from domain.core.env_settings import get_settings

    path = get_settings().config_file
    try:
        config = current_config()
    except ConfigError as exc:
        return Check("config", FAIL, f"{path}: " + "; ".join(exc.problems[:5]))
    return Check("config", OK, f"{path}: {len(config.stores)} stores, {len(config.skus)} SKUs")


def check_database() -> list[Check]:
    """Reachable, and at the newest migration of this checkout."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from domain.core.db import get_engine
    from workers.schema import alembic_config

    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))
        current = set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars()) \
            if connection.execute(text("SELECT to_regclass('alembic_version')")).scalar() else set()
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    reachable = Check("database", OK, f"reachable at {get_engine().url.render_as_string(hide_password=True)}")
    if current == heads:
        return [reachable, Check("migrations", OK, f"at head {', '.join(sorted(heads))}")]
    return [reachable, Check("migrations", FAIL, f"database at {', '.join(sorted(current)) or 'no revision'}, "
                                                 f"code expects {', '.join(sorted(heads))}: run `backorders db upgrade`")]


def check_redis(env: Mapping[str, str]) -> list[Check]:
    """Every Redis in use keeps ``maxmemory-policy noeviction`` (``workers.redis_policy``)."""
    from workers.redis_policy import REQUIRED_POLICY, read_policy, redacted, redis_urls

    checks = []
    for url, role in redis_urls(dict(env)).items():
        reading = read_policy(url, role)
        name = f"redis ({role})"
        if reading.policy is None:
            checks.append(Check(name, FAIL, f"{redacted(url)}: {reading.error or 'no answer'}"))
        elif reading.wrong:
            checks.append(Check(name, FAIL, f"{redacted(url)}: maxmemory-policy {reading.policy}, must be "
                                            f"{REQUIRED_POLICY} (`redis-cli CONFIG SET maxmemory-policy "
                                            f"{REQUIRED_POLICY}`)"))
        else:
            checks.append(Check(name, OK, f"{redacted(url)}: maxmemory-policy {reading.policy}"))
    return checks or [Check("redis", WARN, "no Redis configured (REDIS_URL / BROKER_URL)")]


def check_broker() -> Check:
    from workers.app import app

    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=5)
        return Check("broker", OK, f"{connection.as_uri()} answered")


def check_workers() -> list[Check]:
    """Liveness rows (``domain.core.liveness``): a live consumer per queue, sweepers on time."""
    from domain.core import liveness
    from domain.core.db import get_engine
    from workers.health import beat_schedule, expected_queues

    thresholds = liveness.Thresholds.from_env()
    with get_engine().connect() as connection:
        verdict = liveness.workers(connection, expected_queues(), thresholds.worker_stale_s)
        late = liveness.sweeps(connection, beat_schedule(), thresholds.sweep_slack_s, thresholds.worker_stale_s)
    if verdict.ok:
        workers = Check("workers", OK, verdict.detail)
    elif not verdict.live and not verdict.stale:
        workers = Check("workers", WARN, "no worker has recorded a heartbeat yet (not started?)")
    else:
        workers = Check("workers", FAIL, verdict.detail)
    return [workers, Check("sweeps", OK if late.ok else WARN, late.detail)]


# --- stores -------------------------------------------------------------------------------------


def _first_page(pages: Iterator[Any]) -> int:
    """Records on the first page of a stream (stock: the call every poll starts with; orders:
    what a selling store's poll reads next, refused by a token without order access)."""
    try:
        page = next(pages, None)
    finally:
        close = getattr(pages, "close", None)
        if callable(close):
            close()
    return len(page.records) if page is not None else 0


def _variables(name: str, platform: str, variables: Iterable[str], secret_env: str | None,
               env: Mapping[str, str]) -> tuple[list[Check], bool]:
    """(checks, whether every credential variable is set): a FAIL naming the unset ones, else a
    WARN when the webhook secret's variable is unset (its webhooks will be refused)."""
    missing = sorted(v for v in variables if not env.get(v))
    if missing:
        return [Check(name, FAIL, f"{platform}: environment variable(s) not set: {', '.join(missing)}")], False
    if secret_env and not env.get(secret_env):
        return [Check(f"{name} webhooks", WARN, f"{secret_env} not set: its webhooks will be refused")], True
    return [], True


def _first_read(name: str, where: str, pages: Callable[[], Iterator[Any]], noun: str) -> Check:
    """OK with the records on the first page ``pages`` reads, or FAIL: ``where`` refused the credentials."""
    from connectors.errors import ConnectorError

    try:
        records = _first_page(pages())
    except ConnectorError as exc:
        status = f" ({exc.status_code})" if exc.status_code else ""
        return Check(name, FAIL, f"{where} refused the credentials{status}: {_short(exc)}")
    return Check(name, OK, f"{where}: credentials accepted ({records} {noun})")


def check_stores(env: Mapping[str, str]) -> list[Check]:
    """Every enabled store: its credential variables set, then one authenticated read answered."""
    from sqlalchemy import select

    from connectors.errors import ConnectorError
    from connectors.registry import build_connector
    from domain.core.db import session_scope
    from domain.core.models import Store
    from flows.connections import connector_config

    with session_scope() as session:
        stores = list(session.scalars(select(Store).where(Store.enabled).order_by(Store.key)))
        session.expunge_all()
    if not stores:
        return [Check("stores", WARN, "no store in the database (run `backorders config apply`)")]
    checks = []
    for store in stores:
        name = f"store {store.key}"
        found, complete = _variables(name, store.platform, store.credentials_env.values(), store.webhook_secret_env, env)
        checks += found
        if not complete:
            continue
        config = connector_config(store)
        config = replace(config, options={**config.options, "max_retries": 0})
        connector = build_connector(store.platform, config)
        checks.append(_first_read(name, f"{store.platform} at {store.base_url}", lambda: connector.fetch_stock(None),
                                  "records on the first stock page"))
        if checks[-1].status == FAIL:
            continue
        if store.sells:
            try:
                orders = _first_page(connector.fetch_orders(None))
            except ConnectorError as exc:
                status = f" ({exc.status_code})" if exc.status_code else ""
                checks.append(Check(f"{name} orders", FAIL, f"orders refused{status}: {_short(exc)} — the token "
                                                            "needs order read access"))
                continue
            checks.append(Check(f"{name} orders", OK, f"order access ({orders} on the first page)"))
    return checks


def check_shipping(env: Mapping[str, str]) -> list[Check]:
    """Every enabled shipping account: its credential variables set, then its first page of
    shipments answered (``docs/shipping.md``); its webhook secret's variable is only warned about."""
    from domain.core.business_config import current_config
    from flows.shipping import connector_for

    checks = []
    for account in (a for a in current_config().shipping.accounts if a.enabled):
        name = f"shipping {account.key}"
        found, complete = _variables(name, account.provider, account.credentials.values(),
                                     account.webhook_secret_env, env)
        checks += found
        if not complete:
            continue
        connector = connector_for(replace(account, options={**account.options, "max_retries": 0}))
        checks.append(_first_read(name, f"{account.provider} at {account.base_url}",
                                  lambda: connector.fetch_shipments(None), "shipments on the first page"))
    return checks


# --- messaging providers ------------------------------------------------------------------------


def _notification_channels() -> tuple[set[str], set[str]]:
    """(channels the configuration sends on, Slack webhook variables its routes name)."""
    from domain.core.business_config import current_config

    routes = current_config().notifications.routes
    channels = {"email"}  # customer notices always go by email
    slack = {r.slack_webhook_env for r in routes if r.slack_webhook_env}
    if slack:
        channels.add("slack")
    return channels, slack


def check_providers(env: Mapping[str, str]) -> list[Check]:
    """Each provider the configuration needs: its keys set, then a cheap authenticated call."""
    from connectors.errors import ConnectorError
    from connectors.messaging import registry
    from domain.messaging.delivery_rules import NotConfiguredError, ProviderSettings

    settings = ProviderSettings.from_env(dict(env))
    channels, slack_vars = _notification_channels()
    checks = []
    wanted = [("email", None)] + ([("sms", None)] if env.get("TWILIO_ACCOUNT_SID") or env.get("TWILIO_AUTH_TOKEN")
                                   else [])
    for channel, recipient in wanted:
        try:
            provider = settings.provider_for(channel)
            options = settings.sender_settings(channel, recipient or "")
        except NotConfiguredError as exc:
            checks.append(Check(f"provider {channel}", FAIL, str(exc)))
            continue
        sender = registry.email_sender(options) if channel == "email" else registry.sms_sender(options)
        try:
            detail = sender.check_credentials()
        except ConnectorError as exc:
            checks.append(Check(f"provider {provider}", FAIL, _short(exc)))
            continue
        finally:
            sender.close()
        checks.append(Check(f"provider {provider}", OK, f"key accepted: {detail}"))
    if "sms" not in {c for c, _ in wanted}:
        checks.append(Check("provider twilio", WARN, "TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN not set: "
                                                     "customers get no texts"))
    for variable in sorted(slack_vars):
        try:
            url = settings.slack_webhook_url(variable)
        except NotConfiguredError as exc:
            checks.append(Check(f"slack {variable}", FAIL, str(exc)))
            continue
        shape = url.startswith(("https://", "http://"))
        checks.append(Check(f"slack {variable}", OK if shape else FAIL,
                            "set (incoming webhooks have no read-only call; not sent to)" if shape
                            else "is not an http(s) URL"))
    return checks


def run(env: Mapping[str, str] | None = None) -> list[Check]:
    """Every check, in the order an operator fixes them: configuration, database, Redis, broker,
    workers, stores, shipping accounts, providers."""
    env = dict(os.environ if env is None else env)
    checks: list[Check] = []
    checks += _guarded("config", check_config)
    checks += _guarded("database", check_database)
    checks += _guarded("redis", lambda: check_redis(env))
    checks += _guarded("broker", check_broker)
    checks += _guarded("workers", check_workers)
    checks += _guarded("stores", lambda: check_stores(env))
    checks += _guarded("shipping", lambda: check_shipping(env))
    checks += _guarded("providers", lambda: check_providers(env))
    return checks


def failed(checks: list[Check]) -> bool:
    return any(c.status == FAIL for c in checks)
