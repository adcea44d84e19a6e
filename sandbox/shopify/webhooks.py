"""Shopify's webhook subscription endpoints: ``webhooks.json`` list, create, count, read, delete.

As the Admin REST webhook resource documents it
(https://shopify.dev/docs/api/admin-rest/latest/resources/webhook): ``POST webhooks.json`` with
``{"webhook": {"topic", "address", "format"}}`` answers 201 with the subscription; the same topic
to the same address again is refused 422 ``{"errors": {"address": ["for this topic has already
been taken"]}}``; ``GET webhooks.json`` takes ``address``, ``topic`` and ``limit`` and lists only
the subscriptions made through the API (those made in the Shopify admin — here
``_admin/webhooks`` — are not returned). Shopify takes no per-subscription secret: deliveries are
signed with the app's API secret key (client secret)
(https://shopify.dev/docs/apps/build/webhooks/verify-deliveries), set per instance with
``POST _admin/app {"client_secret"}``. The resource itself is ``sandbox.kit.subscriptions``'s,
with Rails' validation style (every field's first error at once).
"""
from __future__ import annotations

from sandbox.kit import FieldErrors, Rule, Subscriptions, add_secret, errors, one_of, present
from sandbox.shopify.shop import DEFAULT_CLIENT_SECRET, MISSING_PARAM, fixtures, kit, pages

#: Topics a subscription may name (those the stand-in delivers, and a few more of the documented list).
TOPICS = tuple(fixtures.shape("webhook_topics"))
Subscriptions(
    lambda hook: fixtures.fill("webhook", hook), pages, {"address": "address", "topic": "topic"},
    FieldErrors((Rule("topic", present, ["can't be blank"]), Rule("topic", one_of(TOPICS), [
        f"Invalid topic specified. Topics allowed: {', '.join(TOPICS)}"]), Rule("address", present, ["can't be blank"]),
                 Rule("format", one_of(("json", "xml")), ["is not included in the list"])), errors),
    new=lambda state, spec, now: {"secret": state.client_secret, "format": spec.get("format", "json")},
    request=lambda call: {"api_version": call.path_param("version")},
    unknown=lambda deleting: (errors("Not Found"), 404), filters=("address", "topic"),
    envelope="webhook", missing=(errors({"webhook": MISSING_PARAM}), 400),
    unique=(errors({"address": ["for this topic has already been taken"]}), 422), deleted=lambda hook: {},
    count=True).serve(kit, "/webhooks", ".json")


#: The app's API secret key (client secret), which signs the deliveries of API subscriptions.
add_secret(kit, "/app", "client_secret", DEFAULT_CLIENT_SECRET)
