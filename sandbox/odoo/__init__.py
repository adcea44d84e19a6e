"""Odoo external API stand-in (legacy JSON-RPC), served at ``/odoo/{instance}/jsonrpc``.

Follows the docs the connector follows (connectors/odoo.py lists them):

* ``POST /jsonrpc`` with ``{"jsonrpc": "2.0", "method": "call", "params": {"service", "method",
  "args"}, "id"}``; answers HTTP 200 with ``{"jsonrpc": "2.0", "id", "result"}`` or ``"error"``;
* ``common.authenticate(db, login, api_key, user_agent_env)`` → the uid, or ``false`` when the
  login or key is wrong; ``common.version()``; an unknown database is a ``psycopg2.OperationalError``
  (what a multi-database server answers);
* ``object.execute_kw(db, uid, api_key, model, method, args, kwargs)`` re-checks the key on every
  call (a wrong one → ``odoo.exceptions.AccessDenied`` "Access Denied"), for ``res.partner``,
  ``product.product``, ``purchase.order`` and ``purchase.order.line``: ``search``, ``search_read``,
  ``search_count``, ``read``; ``purchase.order`` also ``create`` (``order_line`` ``(0, 0, vals)``
  commands; a dict argument returns the id, a list returns ids), ``button_confirm`` (an RFQ in
  ``draft``/``sent`` becomes ``purchase``) and ``button_cancel``;
* errors use Odoo's envelope ``{"code": 200, "message": "Odoo Server Error", "data": {"name",
  "debug", "message", "arguments", "context"}}`` (``odoo/http.py`` ``serialize_exception``);
  many2one fields read as ``[id, display_name]``; domains are lists of ``[field, op, value]``
  (``=``, ``!=``, ``in``, ``not in``, ``ilike``, ``>``, ``<``) joined by AND.

Stock quants, the automation rule's "Send Webhook Notification" and the JSON-2 endpoint of Odoo
19+ are in ``stock``. Also ``POST /web/session/authenticate`` (the web client's login). Built on ``sandbox.kit``:
``database`` declares the stand-in, ``rpc`` holds the JSON-RPC endpoints, ``orm`` the model
methods they reach, ``admin`` the control endpoints (docs/sandbox.md).
"""
from sandbox.odoo import admin, rpc, stock  # noqa: F401  (each registers its routes)
from sandbox.odoo.database import DEFAULT_PASSWORD, DEFAULTS, kit

__all__ = ["DEFAULTS", "DEFAULT_PASSWORD", "install"]

install = kit.install
