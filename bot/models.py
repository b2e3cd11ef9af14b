"""Normalized recognition results, shared by every vendor, the checks, the replies and the log.

Field names follow the vendor field-mapping tables (driving licence, vehicle licence front/back, plate),
so an adapter only has to rename keys. Dates are `datetime.date` and serialize as ISO `YYYY-MM-DD`;
card values that are not dates stay strings exactly as printed, because the card is the authority and
a reply should show what the card says (``1500kg``, ``5人``), not our reinterpretation of it.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["driving", "vehicle", "plate"]
Side = Literal["front", "back"]
KINDS: tuple[Kind, ...] = ("driving", "vehicle", "plate")
SIDES: tuple[Side, ...] = ("front", "back")


class Box(BaseModel):
    """Axis-aligned rectangle in the pixel space of the image the user sent (after EXIF transpose)."""

    x: int
    y: int
    width: int
    height: int


class FieldMeta(BaseModel):
    """What a vendor told us about one field besides its value; confidence is normalized to 0..1."""

    confidence: float | None = None
    box: Box | None = None


class Document(BaseModel):
    """Base of every card page: per-field confidence and box, keyed by the normalized field name."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    kind: ClassVar[Kind]
    side: ClassVar[Side]
    #: Fields a page must have for us to call it "found" rather than "not found".
    key_fields: ClassVar[tuple[str, ...]] = ()
    #: Fields that identify a person; masked in group chats and in the session log.
    personal_fields: ClassVar[tuple[str, ...]] = ()
    #: Fields every such page prints, so one that came back empty was not read (not left blank). The
    #: seal's issuing authority is left out: some vendors return it only on request.
    printed_fields: ClassVar[tuple[str, ...]] = ()

    meta: dict[str, FieldMeta] = Field(default_factory=dict)

    @classmethod
    def field_names(cls) -> list[str]:
        """Card fields in the order they are printed, without bookkeeping fields."""
        return [name for name in cls.model_fields if name != "meta"]

    def values(self) -> dict[str, Any]:
        """Card fields as JSON-ready values (dates as ISO strings), keyed by the normalized name."""
        dumped = self.model_dump(mode="json", by_alias=True, exclude={"meta"})
        return dumped

    def is_empty(self) -> bool:
        """True when none of the key fields was read: the vendor answered but found no card."""
        return all(self._blank(name) for name in self.key_fields)

    def unread_fields(self) -> list[str]:
        """Printed fields that came back empty, in print order: what the photo did not show well enough."""
        return [name for name in self.printed_fields if self._blank(name)]

    def _blank(self, name: str) -> bool:
        """Whether a field came back without a value (vendors send an empty string or nothing)."""
        return getattr(self, name) in (None, "")


#: 准驾车型: the driving-licence classes (公安部令第162号). A licence prints one, or several run together
#: (``C1E``, ``A1A2``); the engine reads them and the checks judge them by this one list.
# fmt: off
LICENCE_CLASSES: tuple[str, ...] = (
    "A1", "A2", "A3", "B1", "B2", "C1", "C2", "C3", "C4", "C5", "C6", "D", "E", "F", "M", "N", "P",
)
# fmt: on
#: One or more licence classes run together, longest codes tried first.
LICENCE_CLASS_CODES = re.compile("(?:" + "|".join(sorted(LICENCE_CLASSES, key=len, reverse=True)) + ")+")


class DrivingLicence(Document):
    """驾驶证 main page (正页)."""

    kind: ClassVar[Kind] = "driving"
    side: ClassVar[Side] = "front"
    key_fields: ClassVar[tuple[str, ...]] = ("number", "name", "class_")
    personal_fields: ClassVar[tuple[str, ...]] = ("number", "name", "address", "birth_date")
    printed_fields: ClassVar[tuple[str, ...]] = (
        "number",
        "name",
        "sex",
        "nationality",
        "address",
        "birth_date",
        "first_issue_date",
        "class_",
        "valid_from",
        "valid_to",
    )

    number: str | None = None
    name: str | None = None
    sex: str | None = None
    nationality: str | None = None
    address: str | None = None
    birth_date: date | None = None
    first_issue_date: date | None = None
    class_: str | None = Field(default=None, alias="class")
    valid_from: date | None = None
    valid_to: date | None = None
    long_term: bool = False
    issuing_authority: str | None = None

    def unread_fields(self) -> list[str]:
        """A long-term licence prints 长期 where others print the end date, so it has none to read."""
        return [name for name in super().unread_fields() if not (name == "valid_to" and self.long_term)]


class DrivingLicenceBack(Document):
    """驾驶证 副页."""

    kind: ClassVar[Kind] = "driving"
    side: ClassVar[Side] = "back"
    key_fields: ClassVar[tuple[str, ...]] = ("number", "name", "file_number")
    personal_fields: ClassVar[tuple[str, ...]] = ("number", "name", "file_number")
    printed_fields: ClassVar[tuple[str, ...]] = ("number", "name", "file_number")

    number: str | None = None
    name: str | None = None
    file_number: str | None = None
    record: str | None = None


class VehicleLicenceFront(Document):
    """行驶证 main page."""

    kind: ClassVar[Kind] = "vehicle"
    side: ClassVar[Side] = "front"
    key_fields: ClassVar[tuple[str, ...]] = ("plate_number", "vin", "owner")
    #: Masking hides the person, not the vehicle: with the owner masked, the VIN, engine number and
    #: plate name no one, and they are what a team checks a car by (the back page's file number too).
    personal_fields: ClassVar[tuple[str, ...]] = ("owner", "address")
    printed_fields: ClassVar[tuple[str, ...]] = (
        "plate_number",
        "vehicle_type",
        "owner",
        "address",
        "use_character",
        "model",
        "vin",
        "engine_number",
        "register_date",
        "issue_date",
    )

    plate_number: str | None = None
    vehicle_type: str | None = None
    owner: str | None = None
    address: str | None = None
    use_character: str | None = None
    model: str | None = None
    vin: str | None = None
    engine_number: str | None = None
    register_date: date | None = None
    issue_date: date | None = None
    issuing_authority: str | None = None


class VehicleLicenceBack(Document):
    """行驶证 副页; `inspection_valid_until` is derived from the inspection record by the checks."""

    kind: ClassVar[Kind] = "vehicle"
    side: ClassVar[Side] = "back"
    key_fields: ClassVar[tuple[str, ...]] = ("plate_number", "file_number", "approved_passengers")
    personal_fields: ClassVar[tuple[str, ...]] = ()
    #: A quantity the vehicle lacks is printed as ``--``, which some vendors return as empty; these are
    #: the ones every vehicle has.
    printed_fields: ClassVar[tuple[str, ...]] = (
        "plate_number",
        "file_number",
        "total_mass",
        "curb_weight",
        "dimensions",
    )

    plate_number: str | None = None
    file_number: str | None = None
    approved_passengers: str | None = None
    total_mass: str | None = None
    curb_weight: str | None = None
    approved_load: str | None = None
    dimensions: str | None = None
    traction_mass: str | None = None
    remarks: str | None = None
    inspection_record: str | None = None
    inspection_valid_until: date | None = None


class PlateColor(StrEnum):
    BLUE = "blue"
    YELLOW = "yellow"
    GREEN = "green"
    YELLOW_GREEN = "yellow_green"
    WHITE = "white"
    BLACK = "black"
    OTHER = "other"


class Plate(BaseModel):
    """One plate in a photo. `confidence` is 0..1; `double_layer` for two-row yellow plates."""

    number: str
    color: PlateColor = PlateColor.OTHER
    confidence: float | None = None
    box: Box | None = None
    double_layer: bool = False


DOCUMENT_MODELS: dict[tuple[Kind, Side], type[Document]] = {
    ("driving", "front"): DrivingLicence,
    ("driving", "back"): DrivingLicenceBack,
    ("vehicle", "front"): VehicleLicenceFront,
    ("vehicle", "back"): VehicleLicenceBack,
}


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Warning(BaseModel):
    """A finding about the card or photo. `message` is English; replies localize by `code` + `params`."""

    code: str
    severity: Severity
    message: str
    params: dict[str, Any] = Field(default_factory=dict)


class Repair(BaseModel):
    """An OCR confusion we fixed because exactly one swap made a check digit pass."""

    field: str
    before: str
    after: str


class Recognition(BaseModel):
    """What one vendor answered for one image: a card page or a list of plates, plus the raw answer."""

    kind: Kind
    side: Side = "front"
    vendor: str
    document: DrivingLicence | DrivingLicenceBack | VehicleLicenceFront | VehicleLicenceBack | None = None
    plates: list[Plate] = Field(default_factory=list)
    #: Findings the vendor itself reported (glare, copy, screen re-shot) and, after checks, ours.
    warnings: list[Warning] = Field(default_factory=list)
    repairs: list[Repair] = Field(default_factory=list)
    #: The vendor's answer as received, kept for the session log (masked there per policy).
    raw: Any = None

    def fields(self) -> dict[str, Any]:
        """Card fields, or the first plate's, as JSON-ready values: what `recognize --json` prints."""
        if self.kind == "plate":
            if not self.plates:
                return {}
            return self.plates[0].model_dump(mode="json")
        return self.document.values() if self.document is not None else {}

    def is_empty(self) -> bool:
        if self.kind == "plate":
            return not self.plates
        return self.document is None or self.document.is_empty()
