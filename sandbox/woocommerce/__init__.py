"""WooCommerce REST API v3 stand-in, served at ``/woocommerce/{instance}/wp-json/wc/v3/…``.

Follows the public docs the connector follows: HTTP Basic (or ``consumer_key``/``consumer_secret``
query parameters) answering 401 with WordPress error bodies ``{"code","message","data":{"status"}}``
(https://developer.woocommerce.com/docs/apis/rest-api/authentication/); ``page``/``per_page``
(≤ 100) paging with ``X-WP-Total``, ``X-WP-TotalPages`` and a ``Link`` header; ``modified_after`` (strictly
after) with ``dates_are_gmt``; variations under ``/products/{id}/variations``; webhooks signed with
``X-WC-Webhook-Signature`` (base64 HMAC-SHA256 of the body), ``X-WC-Webhook-Delivery-ID`` derived
from the webhook id and the current second as ``WC_Webhook::get_new_delivery_id`` does, and the
unsigned ``webhook_id=N`` ping on registration.

Built on ``sandbox.kit``: ``site`` declares the stand-in (state, renderings, errors, webhooks),
``stock``, ``orders`` and ``money`` hold the API endpoints, ``admin`` the control endpoints.
Generated products are a lazy id range (``sandbox.kit.catalog``).
"""
from sandbox.woocommerce import admin, money, orders, stock  # noqa: F401  (each registers its routes)
from sandbox.woocommerce import webhooks  # noqa: F401  (the webhooks API)
from sandbox.woocommerce.site import kit

install = kit.install
