"""Provider webhooks: inbound SMS and fax in Twilio's format, signature checked first.

The request must carry ``X-Twilio-Signature`` made with ``TWILIO_AUTH_TOKEN`` over the URL the
provider called (``CHANNELS_PUBLIC_URL`` + path when the gateway sits behind a proxy) and the
form parameters; Twilio's own ``RequestValidator`` checks it. Unsigned or badly signed requests
get 403 and a log line, and nothing is taken in. A replayed webhook (a valid signature, again) is
taken in once: the provider's message id is the intake key, so the replay changes nothing.
"""

from __future__ import annotations

import logging
import os

from flask import Response, request
from flask_openapi3 import APIBlueprint, Tag
from twilio.request_validator import RequestValidator

from casekit.context import ROLE_ADMIN, ROLE_SYSTEM, Principal
from gateway.deps import ctx
from gateway.errors import HttpProblem
from gateway.schemas import Problem

log = logging.getLogger(__name__)
bp = APIBlueprint(
    "channels",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="channels")],
    abp_responses={403: Problem, 422: Problem, 503: Problem},
)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _verified_params() -> dict[str, str]:
    token = os.environ.get("TWILIO_AUTH_TOKEN", "")
    signature = request.headers.get("X-Twilio-Signature", "")
    params = dict(request.form.items())
    public = os.environ.get("CHANNELS_PUBLIC_URL", "").rstrip("/")
    url = public + request.full_path.rstrip("?") if public else request.url
    where = {
        "path": request.path,
        "remote": request.remote_addr,
        "sid": params.get("MessageSid") or params.get("FaxSid"),
    }
    if not token:
        log.warning("provider webhook refused: TWILIO_AUTH_TOKEN is not configured", extra=where)
        raise HttpProblem(403, "FORBIDDEN", "Forbidden", "webhooks are not configured")
    if not signature:
        log.warning("provider webhook refused: unsigned", extra=where)
        raise HttpProblem(403, "FORBIDDEN", "Forbidden", "the request is not signed")
    if not RequestValidator(token).validate(url, params, signature):
        log.warning("provider webhook refused: bad signature", extra=where)
        raise HttpProblem(403, "FORBIDDEN", "Forbidden", "the signature does not match")
    return params


def _take_in(channel: str) -> Response:
    params = _verified_params()
    system = Principal(user_id=f"system:twilio-{channel}", roles=(ROLE_SYSTEM, ROLE_ADMIN))
    result = ctx().rpc.call(system, "notifications", "take_in_webhook", channel, params)
    log.info(
        "provider webhook taken in" + (" (a replay: nothing changed)" if result.get("duplicate") else ""),
        extra={"channel": channel, "case_id": result.get("case_id"), "duplicate": result.get("duplicate")},
    )
    response = Response(EMPTY_TWIML, status=200, mimetype="application/xml")
    response.headers["X-Casework-Case"] = str(result.get("reference") or result.get("case_id"))
    return response


@bp.post("/channels/twilio/sms", responses={200: {"description": "empty TwiML"}})
def twilio_sms():
    """Inbound SMS (Twilio Messaging webhook, form-encoded, signed)."""
    return _take_in("sms")


@bp.post("/channels/twilio/fax", responses={200: {"description": "empty TwiML"}})
def twilio_fax():
    """A received fax (Twilio Fax webhook with ``MediaUrl``, PDF or TIFF, signed)."""
    return _take_in("fax")
