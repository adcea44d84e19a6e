"""Error bodies the platforms document, so a stand-in names its style instead of building it.

* ``{"errors": ...}``: Shopify's Admin REST API (a string, a list, or ``{field: [messages]}``
  for a record that does not validate: https://shopify.dev/docs/api/admin-rest#status-and-error-codes).
* ``{"code", "message", "data": {"status"}}``: the WordPress REST API, which WooCommerce answers
  with (https://developer.wordpress.org/rest-api/using-the-rest-api/global-parameters/#_envelope,
  ``WP_REST_Server::error_to_response``); a bad query or body parameter is ``rest_invalid_param``
  with ``data.params`` naming each one, and missing required ones are ``rest_missing_callback_param``
  (``WP_REST_Request::has_valid_params``).
* ``{"type", "title", "status", "o:errorDetails": [{"detail", "o:errorCode"}]}``: Oracle's REST
  services, NetSuite's among them (RFC 9457-style:
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156570709583.html).
* ``{"status", "title", "type", "errors": {field: detail}}``: BigCommerce's v3 APIs
  (https://developer.bigcommerce.com/docs/start/about/status-codes ; the ``ErrorResponse`` of the
  Inventory reference, https://developer.bigcommerce.com/docs/rest-management/inventory ).
* ``{"message", "parameters"}``: Magento / Adobe Commerce, the message with ``%1`` or ``%name``
  placeholders and their values beside it
  (https://developer.adobe.com/commerce/webapi/get-started/gs-web-api-response/).
"""
from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from sandbox.kit.validation import Rule, Schema


def errors(content: Any) -> dict[str, Any]:
    """``{"errors": content}``."""
    return {"errors": content}


def errors_invalid(details: dict[str, str]) -> dict[str, Any]:
    """Bad parameters as ``{"errors": {param: [detail]}}``."""
    return errors({name: [detail] for name, detail in details.items()})


def errors_schema(*rules: Rule) -> Schema:
    """Rules answered ``{"errors": {field: error}}`` (``{"errors": error}`` when the rule names no field)."""
    return Schema(rules, lambda name, error, status: errors({name: error} if name else error))


def wp_body(code: str, message: str, status: int, **data: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "data": {"status": status, **data}}


def wp_error(code: str, message: str, status: int, **data: Any) -> JSONResponse:
    return JSONResponse(wp_body(code, message, status, **data), status_code=status)


def wp_invalid(details: dict[str, str]) -> dict[str, Any]:
    """``rest_invalid_param`` naming every parameter; ``data.params`` holds the non-empty details."""
    params = {name: detail for name, detail in details.items() if detail}
    return wp_body("rest_invalid_param", f"Invalid parameter(s): {', '.join(details)}", 400,
                   **({"params": params} if params else {}))


def wp_required(*names: str) -> Rule:
    """The check WordPress makes before a controller runs: every ``required`` argument is given
    (not empty), else 400 ``rest_missing_callback_param`` naming the missing ones in ``data.params``."""
    def missing(body: Any) -> list[str]:
        return [name for name in names if not (body if isinstance(body, dict) else {}).get(name)]
    return Rule("", lambda body, _, state: not missing(body), lambda body: (
        "rest_missing_callback_param", f"Missing parameter(s): {', '.join(missing(body))}", {"params": missing(body)}),
                400)


def wp_schema(*rules: Rule) -> Schema:
    """Rules whose error is ``(code, message)`` or ``(code, message, data)``, answered as WordPress does."""
    return Schema(rules, lambda name, error, status: wp_body(error[0], error[1], status, **(error[2:] or [{}])[0]))


def oracle_body(status: int, title: str, detail: str, code: str) -> dict[str, Any]:
    """Oracle REST's error: the status's RFC 9110 section as ``type``, one ``o:errorDetails`` entry."""
    return {"type": f"https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.{status - 399}",
            "title": title, "status": status, "o:errorDetails": [{"detail": detail, "o:errorCode": code}]}


def oracle_bad_request(detail: str, code: str = "INVALID_PARAMETER") -> dict[str, Any]:
    return oracle_body(400, "Bad Request", detail, code)


#: The ``type`` BigCommerce's v3 error bodies carry (the Inventory API reference's examples).
STATUS_CODES = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"


def problem(status: int, title: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    """A BigCommerce v3 error body."""
    return {"status": status, "title": title, "type": STATUS_CODES, "errors": errors or {}}


def problem_schema(*rules: Rule) -> Schema:
    """Rules answered as BigCommerce does: the error is the title, the field named under ``errors``."""
    return Schema(rules, lambda name, error, status: problem(status, str(error), {name: str(error)} if name else {}))


def message_body(message: str, parameters: Any = None) -> dict[str, Any]:
    """``{"message", "parameters"}``; no ``parameters`` key when the message has none."""
    return {"message": message, **({"parameters": parameters} if parameters is not None else {})}


def message_error(call: Call[Any], message: str, parameters: Any = None, status: int = 400) -> Answer:
    """``raise message_error(call, ...)``: the refusal in the message-and-parameters style."""
    return call.refuse(message_body(message, parameters), status)
