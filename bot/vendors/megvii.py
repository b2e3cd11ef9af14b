"""Megvii (`megvii`): FaceID v2 and Face++ cardpp for 驾驶证 (both pages) and 行驶证 (main page only).

Two products of one company, on two hosts, with one credential pair sent as plain form fields:

- FaceID v2 ``/faceid/v2/ocr_vehicle_license`` reads the 行驶证 main page; dates come as
  ``{year, month, day}`` objects, and "no licence found" is a success with no fields at all.
- Face++ cardpp ``/cardpp/v2/ocrdriverlicense`` reads the 驾驶证; ``mode=complete`` returns the main page
  in ``main`` and the 副页 in ``second``, each field ``{content, confidence}`` (confidence 0..100).
  ``/cardpp/v1/ocrvehiclelicense`` is the alternative 行驶证 reader (``cards[]``, ISO date strings),
  chosen with ``vehicle_api = "cardpp"``.

Both want the image as a multipart file, at most 2 MB for the whole request (beyond that a proxy answers
413 in plain text, not JSON) and at most 4096 px a side. Neither reads the 行驶证 副页 or plates, so
`supports` leaves them out and the chain passes those photos to another vendor.

Errors are an HTTP status plus ``error_message``, a code optionally followed by ``: <param>``
("INVALID_IMAGE_SIZE: image_file") or by a reason ("AUTHORIZATION_ERROR:Insufficient Account Balance"),
so they are matched by prefix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Literal

import httpx
from pydantic import SecretStr

from bot.dates import parse_date
from bot.images import ImageLimits, IntakeImage, PreparedImage
from bot.models import (
    DrivingLicence,
    DrivingLicenceBack,
    FieldMeta,
    Kind,
    Recognition,
    Side,
    VehicleLicenceFront,
)
from bot.vendors.base import UNSUPPORTED, ErrorCategory, Secret, VendorError, VendorSettings, register
from bot.vendors.http import CloudVendor, RetryPolicy, is_retryable, json_body, status_category
from bot.vendors.mapping import FieldReader, FieldTable, clamp_unit, read_page, read_validity

DEFAULT_FACEID_ENDPOINT = "https://api.megvii.com"
DEFAULT_FACEPP_ENDPOINT = "https://api-cn.faceplusplus.com"
FACEID_VEHICLE_PATH = "/faceid/v2/ocr_vehicle_license"
CARDPP_DRIVER_PATH = "/cardpp/v2/ocrdriverlicense"
CARDPP_VEHICLE_PATH = "/cardpp/v1/ocrvehiclelicense"

#: Megvii's limit is on the whole request; the multipart envelope and the key fields take well under this.
MAX_REQUEST_BYTES = 2 * 1024 * 1024
_MULTIPART_ALLOWANCE = 16 * 1024

#: Errors of a malformed request (or a wrong path).
_REQUEST_BUGS = ("MISSING_ARGUMENTS", "BAD_ARGUMENTS", "API_NOT_FOUND")
#: error_message prefixes in our taxonomy, most specific first (a balance problem is reported as an
#: AUTHORIZATION_ERROR but is a quota matter, not a key problem).
ERROR_PREFIXES: tuple[tuple[str, ErrorCategory], ...] = (
    ("AUTHORIZATION_ERROR:INSUFFICIENT ACCOUNT BALANCE", ErrorCategory.QUOTA_OR_RATE),
    ("CONCURRENCY_LIMIT_EXCEEDED", ErrorCategory.QUOTA_OR_RATE),
    ("AUTHENTICATION_ERROR", ErrorCategory.AUTH),
    ("AUTHORIZATION_ERROR", ErrorCategory.AUTH),
    ("IMAGE_ERROR_UNSUPPORTED_FORMAT", ErrorCategory.BAD_IMAGE),
    ("INVALID_IMAGE_SIZE", ErrorCategory.BAD_IMAGE),
    ("INVALID_IMAGE_URL", ErrorCategory.BAD_IMAGE),
    ("IMAGE_FILE_TOO_LARGE", ErrorCategory.BAD_IMAGE),
    ("IMAGE_DOWNLOAD_TIMEOUT", ErrorCategory.BAD_IMAGE),
    ("REQUEST ENTITY TOO LARGE", ErrorCategory.BAD_IMAGE),
    ("INTERNAL_ERROR", ErrorCategory.SERVER),
    # Our request was malformed or the path is wrong: only a change on our side fixes that, so the
    # photo should go to the next vendor rather than be blamed (and asking again cannot help either).
    *((bug, ErrorCategory.SERVER) for bug in _REQUEST_BUGS),
)

#: Statuses whose body explains nothing more than the status (413 comes as plain text).
_STATUS_CATEGORIES = {412: ErrorCategory.BAD_IMAGE, 413: ErrorCategory.BAD_IMAGE}


class MegviiSettings(VendorSettings):
    """`[vendors.megvii]`: one key pair serves both hosts. `endpoint` is FaceID's host."""

    api_key: Secret = SecretStr("")
    api_secret: Secret = SecretStr("")
    endpoint: str | None = DEFAULT_FACEID_ENDPOINT
    faceplusplus_endpoint: str = DEFAULT_FACEPP_ENDPOINT
    #: Which 行驶证 reader: FaceID v2 (the one documented for this bot) or Face++ cardpp v1.
    vehicle_api: Literal["faceid", "cardpp"] = "faceid"

    def missing_credentials(self) -> str | None:
        complete = self.api_key.get_secret_value() and self.api_secret.get_secret_value()
        return None if complete else "api_key/api_secret"


@dataclass(frozen=True)
class _Call:
    """One upload: which host and path, the file field's name there, and extra form fields."""

    host: Literal["faceid", "faceplusplus"]
    path: str
    file_field: str
    options: Mapping[str, str]


_DRIVER_CALL = _Call(
    "faceplusplus", CARDPP_DRIVER_PATH, "image_file", {"mode": "complete", "return_score": "1"}
)
_VEHICLE_CALLS: dict[str, _Call] = {
    "faceid": _Call("faceid", FACEID_VEHICLE_PATH, "image", {}),
    "cardpp": _Call("faceplusplus", CARDPP_VEHICLE_PATH, "image_file", {}),
}


@register
class MegviiVendor(CloudVendor[MegviiSettings]):
    name: ClassVar[str] = "megvii"
    supports: ClassVar[frozenset[tuple[Kind, Side]]] = frozenset(
        {("driving", "front"), ("driving", "back"), ("vehicle", "front")}
    )
    #: 100 px is cardpp v2's minimum (v1 takes 48); JPEG/PNG are what every one of the three accepts.
    limits: ClassVar[ImageLimits] = ImageLimits(
        max_bytes=MAX_REQUEST_BYTES - _MULTIPART_ALLOWANCE,
        max_side=4096,
        min_side=100,
        formats=frozenset({"JPEG", "PNG"}),
    )
    settings_model = MegviiSettings

    def __init__(
        self,
        settings: VendorSettings | None = None,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(settings, retry=retry, sleep=sleep, transport=transport)
        self._hosts = {
            "faceid": (self.settings.endpoint or DEFAULT_FACEID_ENDPOINT).rstrip("/"),
            "faceplusplus": self.settings.faceplusplus_endpoint.rstrip("/"),
        }

    async def recognize(self, kind: Kind, side: Side, image: IntakeImage) -> Recognition:
        if not self.supports_request(kind, side):
            raise VendorError(self.name, ErrorCategory.NOT_FOUND, UNSUPPORTED, f"cannot read {kind}/{side}")
        self.check_credentials()
        call = _DRIVER_CALL if kind == "driving" else _VEHICLE_CALLS[self.settings.vehicle_api]
        prepared = await self.prepare_off_loop(image)
        body = await self._http.call(lambda: self._send(call, prepared), retry_if=_worth_retrying)
        recognition = Recognition(kind=kind, side=side, vendor=self.name, raw=body)
        recognition.document = _document(kind, side, call, body)
        if recognition.is_empty():
            raise VendorError(self.name, ErrorCategory.NOT_FOUND, "empty", "no licence found")
        return recognition

    async def _send(self, call: _Call, prepared: PreparedImage) -> dict[str, Any]:
        form = {
            "api_key": self.settings.api_key.get_secret_value().strip(),
            "api_secret": self.settings.api_secret.get_secret_value().strip(),
            **call.options,
        }
        extension = "png" if prepared.format == "PNG" else "jpg"
        upload = (f"licence.{extension}", prepared.data, f"image/{'png' if extension == 'png' else 'jpeg'}")
        response = await self._http.request(
            "POST", self._hosts[call.host] + call.path, data=form, files={call.file_field: upload}
        )
        if response.status_code != httpx.codes.OK:
            raise response_error(self.name, response)
        body = json_body(self.name, response)
        if body.get("error_message"):
            raise message_error(self.name, str(body["error_message"]), response.status_code)
        return body


def _worth_retrying(error: VendorError) -> bool:
    """An empty account balance will not refill in a few seconds, and a malformed request stays
    malformed; a concurrency limit may free up."""
    message = error.message.upper()
    return is_retryable(error) and "BALANCE" not in message and not message.startswith(_REQUEST_BUGS)


# ------------------------------------------------------------------------------------------- errors


def response_error(vendor: str, response: httpx.Response) -> VendorError:
    """A non-200 answer: Megvii's JSON ``error_message``, or plain text (413) or a proxy's page."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error_message"), str):
        return message_error(vendor, body["error_message"], response.status_code)
    category = (
        _STATUS_CATEGORIES.get(response.status_code)
        or status_category(response.status_code)
        or ErrorCategory.SERVER
    )
    text = response.text.strip()[:200] if not body else ""
    return VendorError(vendor, category, f"HTTP {response.status_code}", text or response.reason_phrase)


def message_error(vendor: str, message: str, status: int) -> VendorError:
    """Category by the message's prefix; the code is the part before any ``:`` detail."""
    code = message.split(":", 1)[0].strip() or f"HTTP {status}"
    upper = message.upper().replace(": ", ":")
    category = next((cat for prefix, cat in ERROR_PREFIXES if upper.startswith(prefix)), None)
    if category is None:
        category = _STATUS_CATEGORIES.get(status) or status_category(status) or ErrorCategory.SERVER
    return VendorError(vendor, category, code, message)


# ------------------------------------------------------------------------------------ field mapping


def _document(
    kind: Kind, side: Side, call: _Call, body: Mapping[str, Any]
) -> DrivingLicence | DrivingLicenceBack | VehicleLicenceFront | None:
    if kind == "driving":
        page = _first(body.get("main" if side == "front" else "second"))
        if page is None:
            return None
        return driving_front(page) if side == "front" else driving_back(page)
    if call.path == FACEID_VEHICLE_PATH:
        return vehicle_front(body)
    card = _first(body.get("cards"))
    return vehicle_front(card) if card is not None else None


def _first(entries: Any) -> Mapping[str, Any] | None:
    """Face++ answers lists (``main``, ``second``, ``cards``); an empty one means nothing was found."""
    if isinstance(entries, list) and entries and isinstance(entries[0], Mapping):
        return entries[0]
    return None


class _Fields(FieldReader):
    """Reads a card's fields, plain (FaceID, cardpp v1) or ``{content, confidence}`` (cardpp v2)."""

    def __init__(self, card: Mapping[str, Any]) -> None:
        super().__init__()
        self._card = card

    def raw(self, field: str, key: str) -> Any:
        entry = self._card.get(key)
        if isinstance(entry, Mapping) and "content" in entry:
            confidence = entry.get("confidence")
            if isinstance(confidence, int | float) and not isinstance(confidence, bool):
                self.meta[field] = FieldMeta(confidence=clamp_unit(float(confidence) / 100))
            return entry["content"]
        return entry

    def text(self, field: str, *keys: str) -> str | None:
        for key in keys:
            value = self.raw(field, key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = str(value)
            if isinstance(value, str) and value.strip():
                return value.strip()
            self.meta.pop(field, None)
        return None


class _VehicleFields(_Fields):
    """The 行驶证 answers' dates: FaceID v2 sends ``{year, month, day}`` objects, cardpp v1 strings."""

    def date(self, field: str, *keys: str) -> date | None:
        (key,) = keys
        value = self.raw(field, key)
        # Anything but an object or a string (null, a number) is unreadable.
        return parse_date(value) if isinstance(value, str | Mapping) else None


#: cardpp v2 ``main[0]``; the validity fields are read by `driving_front`.
DRIVING_FRONT: FieldTable = {
    "number": "license_number",
    "name": "name",
    "sex": "gender",
    "nationality": "nationality",
    "address": "address",
    "birth_date": "birthday",
    "first_issue_date": "issue_date",
    "class_": "class",
    "issuing_authority": "issued_by",
}

#: cardpp v2 ``second[0]`` (mode=complete): the 副页 has no record field in Face++'s answer.
DRIVING_BACK: FieldTable = {
    "number": "license_number",
    "name": "name",
    "file_number": "file_number",
}

#: FaceID v2 (the answer itself) or cardpp v1 ``cards[0]``: one set of names for both.
VEHICLE_FRONT: FieldTable = {
    "plate_number": "plate_no",
    "vehicle_type": "vehicle_type",
    "owner": "owner",
    "address": "address",
    "use_character": "use_character",
    "model": "model",
    "vin": "vin",
    "engine_number": "engine_no",
    "register_date": "register_date",
    "issue_date": "issue_date",
    "issuing_authority": "issued_by",
}


def driving_front(card: Mapping[str, Any]) -> DrivingLicence:
    """Validity is either ``valid_date`` ("20141225至20201225") or, on older cards, ``valid_from`` plus
    ``valid_for`` ("6年")."""
    fields = _Fields(card)
    validity = read_validity(fields, start="valid_from", end=("valid_date", "valid_for"))
    return read_page(DrivingLicence, DRIVING_FRONT, fields, **validity)


def driving_back(card: Mapping[str, Any]) -> DrivingLicenceBack:
    return read_page(DrivingLicenceBack, DRIVING_BACK, _Fields(card))


def vehicle_front(card: Mapping[str, Any]) -> VehicleLicenceFront:
    return read_page(VehicleLicenceFront, VEHICLE_FRONT, _VehicleFields(card))
