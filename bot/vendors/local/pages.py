"""The four licence pages as the parser knows them: which labels each prints, in print order, and how
each label's value may be laid out (wrapped, under the label, filling its row) or found when glare took
the label (by a label on its row and one in its column, or the labels either side of it on its row).

The labels' order is the card's own reading order (top to bottom, left to right), which also tells an
upright card from an upside-down one; nothing here is a pixel position, since real cards and our
specimens share the labels and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import Kind, Side


@dataclass(frozen=True)
class LabelSpec:
    """One printed label: the field it introduces and how its value may be laid out."""

    field: str
    variants: tuple[str, ...]
    #: The value may wrap onto following lines (addresses, records).
    multiline: bool = False
    #: The value may sit under the label rather than beside it (stamp boxes).
    below: bool = False
    #: Nothing else shares the value's row, so any unlabelled text further along that row is more of it
    #: (an address that glare or a wide gap split into two boxes).
    fills_row: bool = False
    #: A label printed on this one's row and one printed in its column: where both were found, they say
    #: where this one stands when glare took it whole (see `lost_labels.placed_by_neighbours`).
    same_row: str | None = None
    same_column: str | None = None
    #: The labels printed before and after this one on its row, when no label shares its column: where
    #: both were found, its value lies between the first one's value and the second label.
    between: tuple[str, str] | None = None
    #: The fields whose values share this one's value row and value column: where both values were
    #: read and neither this label nor its value was, they say where its value stands (see
    #: `lost_labels.cells_placed_by_values`).
    value_row: str | None = None
    value_column: str | None = None
    #: Where the value stands in the card's table of rows of one height: (row, column), counting from the
    #: table's first row and its first value column. Values read elsewhere on the page place the table,
    #: and so this value's cell when its label and value were both lost (see
    #: `lost_labels.cells_placed_by_table`).
    cell: tuple[int, int] | None = None


@dataclass(frozen=True)
class PageSpec:
    kind: Kind
    side: Side
    labels: tuple[LabelSpec, ...]
    #: The page carries the issuing authority's red seal.
    has_seal: bool = False

    def label(self, name: str) -> LabelSpec:
        return next(spec for spec in self.labels if spec.field == name)


def _labels(*specs: tuple[str, str] | LabelSpec) -> tuple[LabelSpec, ...]:
    return tuple(spec if isinstance(spec, LabelSpec) else LabelSpec(spec[0], (spec[1],)) for spec in specs)


#: Labels in the order the card prints them (top to bottom, left to right): that order also tells an
#: upright card from an upside-down one.
PAGES: dict[tuple[Kind, Side], PageSpec] = {
    ("driving", "front"): PageSpec(
        "driving",
        "front",
        _labels(
            ("number", "证号"),
            LabelSpec(
                "name",
                ("姓名",),
                same_row="sex",
                same_column="number",
                value_row="sex",
                value_column="number",
            ),
            LabelSpec("sex", ("性别",), between=("name", "nationality")),
            ("nationality", "国籍"),
            LabelSpec("address", ("住址",), multiline=True, fills_row=True),
            ("birth_date", "出生日期"),
            LabelSpec("first_issue_date", ("初次领证日期", "领证日期")),
            LabelSpec("class", ("准驾车型",)),
            LabelSpec("valid_from", ("有效起始日期", "起始日期")),
            ("valid_period", "有效期限"),
        ),
        has_seal=True,
    ),
    ("driving", "back"): PageSpec(
        "driving",
        "back",
        _labels(
            ("number", "证号"),
            LabelSpec(
                "name",
                ("姓名",),
                same_row="file_number",
                same_column="number",
                value_row="file_number",
                value_column="number",
            ),
            ("file_number", "档案编号"),
            LabelSpec("record", ("记录",), multiline=True, below=True),
        ),
    ),
    ("vehicle", "front"): PageSpec(
        "vehicle",
        "front",
        _labels(
            LabelSpec(
                "plate_number",
                ("号牌号码", "车牌号码"),
                same_row="vehicle_type",
                same_column="owner",
                cell=(0, 0),
            ),
            LabelSpec(
                "vehicle_type", ("车辆类型",), same_row="plate_number", same_column="model", cell=(0, 1)
            ),
            LabelSpec("owner", ("所有人",), multiline=True, fills_row=True, cell=(1, 0)),
            LabelSpec("address", ("住址",), multiline=True, fills_row=True, cell=(2, 0)),
            LabelSpec("use_character", ("使用性质",), same_row="model", same_column="vin", cell=(3, 0)),
            LabelSpec(
                "model", ("品牌型号",), same_row="use_character", same_column="vehicle_type", cell=(3, 1)
            ),
            LabelSpec("vin", ("车辆识别代号", "车辆识别代码", "识别代号"), cell=(4, 0)),
            LabelSpec("engine_number", ("发动机号码", "发动机号"), cell=(5, 0)),
            LabelSpec(
                "register_date",
                ("注册日期", "注册登记日期"),
                same_row="issue_date",
                same_column="vin",
                cell=(6, 0),
            ),
            LabelSpec(
                "issue_date", ("发证日期",), same_row="register_date", same_column="model", cell=(6, 1)
            ),
        ),
        has_seal=True,
    ),
    ("vehicle", "back"): PageSpec(
        "vehicle",
        "back",
        _labels(
            LabelSpec(
                "plate_number",
                ("号牌号码", "车牌号码"),
                same_row="file_number",
                same_column="approved_passengers",
                cell=(0, 0),
            ),
            LabelSpec(
                "file_number", ("档案编号",), same_row="plate_number", same_column="total_mass", cell=(0, 1)
            ),
            LabelSpec(
                "approved_passengers",
                ("核定载人数",),
                same_row="total_mass",
                same_column="curb_weight",
                cell=(1, 0),
            ),
            LabelSpec(
                "total_mass",
                ("总质量",),
                same_row="approved_passengers",
                same_column="file_number",
                cell=(1, 1),
            ),
            LabelSpec(
                "curb_weight",
                ("整备质量",),
                same_row="approved_load",
                same_column="approved_passengers",
                cell=(2, 0),
            ),
            LabelSpec(
                "approved_load",
                ("核定载质量",),
                same_row="curb_weight",
                same_column="total_mass",
                cell=(2, 1),
            ),
            LabelSpec("dimensions", ("外廓尺寸",), cell=(3, 0)),
            LabelSpec(
                "traction_mass", ("准牵引总质量",), same_row="remarks", same_column="dimensions", cell=(4, 0)
            ),
            LabelSpec(
                "remarks",
                ("备注",),
                multiline=True,
                same_row="traction_mass",
                same_column="approved_load",
                cell=(4, 1),
            ),
            LabelSpec("inspection_record", ("检验记录",), multiline=True, below=True),
        ),
    ),
}
