"""Scripted vendors for tests of the chain, the recognizer and the CLI.

Each answers from its `[vendors.NAME]` table (an outcome and a delay), so a test builds real chains
through real config, exactly as a deployment would, and only the OCR is fake.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import ClassVar, Literal

from bot.images import ImageLimits, IntakeImage
from bot.models import DrivingLicence, Kind, Plate, PlateColor, Recognition, Side, VehicleLicenceBack
from bot.vendors.base import ErrorCategory, Vendor, VendorError, VendorSettings, register

Behaviour = Literal["ok", "empty", "auth", "quota_or_rate", "bad_image", "not_found", "timeout", "server"]


class ScriptedSettings(VendorSettings):
    outcome: Behaviour = "ok"
    delay: float = 0.0
    #: Driving licence valid_to and first issue, to drive expiry and probation warnings from a test.
    valid_to: date = date(2030, 1, 1)
    first_issue_date: date = date(2000, 5, 10)
    #: The vendor's own code on a scripted failure.
    error_code: str = "X-1"


def sample_licence(valid_to: date, first_issue_date: date = date(2000, 5, 10)) -> DrivingLicence:
    """A consistent licence: 11010519491231002X is the GB 11643 worked example (born 1949-12-31, female)."""
    return DrivingLicence(
        number="11010519491231002X",
        name="王芳",
        sex="女",
        nationality="中国",
        address="北京市朝阳区建国路88号",
        birth_date=date(1949, 12, 31),
        first_issue_date=first_issue_date,
        class_="C1",
        valid_from=date(2020, 5, 10),
        valid_to=valid_to,
        issuing_authority="北京市公安局公安交通管理局",
    )


class ScriptedVendor(Vendor):
    name: ClassVar[str] = "scripted"
    supports: ClassVar[frozenset[tuple[Kind, Side]]] = frozenset(
        {("driving", "front"), ("vehicle", "back"), ("plate", "front")}
    )
    limits: ClassVar[ImageLimits] = ImageLimits()
    settings_model = ScriptedSettings
    calls: ClassVar[int] = 0
    #: Calls under way now, and the most ever under way at once (a test resets it): whether calls
    #: overlapped is counted here rather than inferred from how long they took.
    running: ClassVar[int] = 0
    most_running: ClassVar[int] = 0

    async def recognize(self, kind: Kind, side: Side, image: IntakeImage) -> Recognition:
        settings = self.settings
        assert isinstance(settings, ScriptedSettings)
        type(self).calls += 1
        if settings.delay:
            ScriptedVendor.running += 1
            ScriptedVendor.most_running = max(ScriptedVendor.most_running, ScriptedVendor.running)
            try:
                await asyncio.sleep(settings.delay)
            finally:
                ScriptedVendor.running -= 1
        if settings.outcome == "timeout":
            raise TimeoutError("scripted timeout")
        if settings.outcome not in ("ok", "empty"):
            category = ErrorCategory(settings.outcome)
            raise VendorError(self.name, category, code=settings.error_code, message="scripted failure")
        recognition = Recognition(kind=kind, side=side, vendor=self.name, raw={"scripted": True})
        if settings.outcome == "empty":
            return recognition
        if kind == "plate":
            recognition.plates = [Plate(number="京A12345", color=PlateColor.BLUE, confidence=0.97)]
        elif kind == "vehicle":
            recognition.document = VehicleLicenceBack(
                plate_number="京A12345",
                file_number="110001234567",
                approved_passengers="5人",
                inspection_record="检验有效期至2031年09月京A(01)",
            )
        else:
            recognition.document = sample_licence(settings.valid_to, settings.first_issue_date)
        return recognition


@register
class ScriptedPrimary(ScriptedVendor):
    name: ClassVar[str] = "scripted"


@register
class ScriptedBackup(ScriptedVendor):
    name: ClassVar[str] = "scripted_backup"
