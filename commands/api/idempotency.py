"""Idempotency-Key support: a retried command returns its first response and has no second effect.

The record is written in the same transaction as the command, so either both
commit or neither does; a failed command leaves no record and may be retried.
"""

import hashlib
import json

from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from commands.models import IdempotencyRecord
from core.routers import WRITE_DATABASE

MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(APIException):
    status_code = 422
    default_detail = "This Idempotency-Key was already used with a different request."
    default_code = "idempotency_key_reused"


def respond_once(request, execute) -> Response:
    """Return `execute()`'s response, or the stored one if this key and request were seen before."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return execute()
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise ValidationError({"Idempotency-Key": [f"Must be 1 to {MAX_KEY_LENGTH} characters."]})
    fingerprint = _fingerprint(request)
    try:
        with transaction.atomic(using=WRITE_DATABASE):
            previous = _previous_response(request.user, key, fingerprint)
            if previous is not None:
                return previous
            response = execute()
            IdempotencyRecord.objects.create(
                user=request.user,
                key=key,
                fingerprint=fingerprint,
                status_code=response.status_code,
                response=response.data,
            )
            return response
    except IntegrityError:
        # A concurrent request with the same key committed first; ours rolled back whole.
        previous = _previous_response(request.user, key, fingerprint)
        if previous is None:
            raise
        return previous


def _previous_response(user, key: str, fingerprint: str) -> Response | None:
    record = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if record is None:
        return None
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    response = Response(record.response, status=record.status_code)
    if "position" in record.response:
        response["X-Event-Position"] = str(record.response["position"])
    if "command_id" in record.response:  # an asynchronous command's 202
        response["Location"] = reverse("commands:command-status", kwargs={"command_id": record.response["command_id"]})
    response["Idempotent-Replayed"] = "true"
    return response


def _fingerprint(request) -> str:
    data = request.data
    if hasattr(data, "lists"):  # a form post: keep every value of repeated fields
        data = dict(data.lists())
    canonical = json.dumps([request.method, request.path, data], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
