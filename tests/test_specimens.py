"""The specimen generator: valid fake data, deterministic pictures, working degradations, dataset layout.

No OCR here (that is slow); these tests pin down what the end-to-end tests and benchmarks rely on: the
truth is valid by the project's own checks and matches bot.models, and the files are where they say.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from bot.models import DrivingLicence, DrivingLicenceBack, PlateColor, VehicleLicenceBack, VehicleLicenceFront
from bot.plate_grammar import parse_plate
from handlers.checks import id_birth_date, id_number_valid, id_sex, valid_licence_class, vin_valid
from tests.specimens import (
    CARD_SIZE,
    DEGRADATIONS,
    SAMPLE_FILES,
    degrade,
    degrade_tracked,
    fonts,
    generate,
    make_person,
    make_plate,
    make_vehicle,
    render_driving,
    render_plate,
    render_plate_scene,
    render_vehicle,
)
from tests.specimens.__main__ import main
from tests.specimens.data import (
    GIVEN_FEMALE,
    GIVEN_MALE,
    REFERENCE_DATE,
    PlateSpec,
    add_years,
    driving_truth,
    make_name,
    month_end,
    vehicle_truth,
)
from tests.specimens.degrade import ROTATIONS, choose

SEEDS = range(40)


def _digest(image: Image.Image) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()


def _difference(first: Image.Image, second: Image.Image) -> float:
    """Mean absolute pixel difference; infinite when the sizes differ."""
    if first.size != second.size:
        return float("inf")
    a = np.asarray(first.convert("RGB"), dtype=np.int16)
    b = np.asarray(second.convert("RGB"), dtype=np.int16)
    return float(np.abs(a - b).mean())


# ----------------------------------------------------------------------------------------------- data


@pytest.mark.parametrize("seed", SEEDS)
def test_person_numbers_pass_the_projects_checks(seed: int) -> None:
    person = make_person(random.Random(seed))
    assert id_number_valid(person.id_number)
    assert id_birth_date(person.id_number) == person.birth_date
    assert id_sex(person.id_number) == {"男": "male", "女": "female"}[person.sex]
    assert person.id_number[:6] == person.region.code
    assert person.address.startswith(person.region.address_prefix)
    assert valid_licence_class(person.licence_class)
    assert len(person.file_number) == 12 and person.file_number.isdigit()


@pytest.mark.parametrize("seed", SEEDS)
def test_person_dates_follow_the_licence_rules(seed: int) -> None:
    person = make_person(random.Random(seed))
    assert add_years(person.birth_date, 18) <= person.first_issue_date <= REFERENCE_DATE
    assert person.first_issue_date <= person.valid_from <= REFERENCE_DATE
    if person.long_term:
        assert person.valid_to is None
    else:
        assert person.valid_years in (6, 10)
        assert person.valid_to == add_years(person.valid_from, person.valid_years)
    if person.record and person.record.startswith("实习期至"):
        assert person.valid_from == person.first_issue_date


def test_people_vary_like_real_drivers() -> None:
    people = [make_person(random.Random(seed)) for seed in range(200)]
    assert {person.sex for person in people} == {"男", "女"}
    assert any(person.long_term for person in people)
    assert any(person.valid_to and person.valid_to < REFERENCE_DATE for person in people), "some expired"
    assert any(person.record is None for person in people)
    assert any(person.record and "实习期" in person.record for person in people)
    assert len({person.region.code for person in people}) > 5


def test_real_names_draw_given_names_as_often_as_people_are_given_them() -> None:
    """The default pool is a few dozen popular characters, which flatters any reader that knows names;
    the "real" pool draws from every given-name character people bear, rare ones included."""
    common = set(GIVEN_MALE + GIVEN_FEMALE)
    real = [make_name(random.Random(seed), "女", "real") for seed in range(400)]
    given = [char for name in real for char in name[1:]]
    assert len(set(given)) > 150
    assert 0.4 < sum(char not in common for char in given) / len(given) < 0.85
    assert real == [make_name(random.Random(seed), "女", "real") for seed in range(400)]  # seeded
    assert all(make_name(random.Random(seed), "男")[-1] in common for seed in range(100))
    with pytest.raises(ValueError, match="name pool"):
        make_name(random.Random(0), "男", "rare")  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", SEEDS)
def test_vehicle_numbers_pass_the_projects_checks(seed: int) -> None:
    vehicle = make_vehicle(random.Random(seed))
    assert vin_valid(vehicle.vin)
    assert parse_plate(vehicle.plate.number) is not None
    assert vehicle.register_date <= vehicle.issue_date <= REFERENCE_DATE
    record_month = vehicle.inspection_record.removeprefix("检验有效期至")[:8]
    until = vehicle.inspection_valid_until
    assert record_month == f"{until:%Y年%m月}"
    assert until == month_end(until.year, until.month)
    assert vehicle.inspection_record.endswith(")") and vehicle.plate.number[:2] in vehicle.inspection_record


PLATE_GRAMMAR_KIND = {
    "blue": "ordinary",
    "yellow": "ordinary",
    "green": "new_energy",
    "yellow_green": "new_energy",
    "police": "police",
    "coach": "coach",
    "trailer": "trailer",
}


@pytest.mark.parametrize("kind", [*PLATE_GRAMMAR_KIND, "hk_macau"])
def test_every_plate_kind_obeys_the_plate_grammar(kind: str) -> None:
    for seed in range(25):
        plate = make_plate(random.Random(seed), kind)
        parsed = parse_plate(plate.number)
        assert parsed is not None, plate.number
        expected = PLATE_GRAMMAR_KIND.get(kind, "hk" if plate.number.endswith("港") else "macau")
        assert parsed.kind == expected
        if kind == "green":
            assert parsed.size == "small" and len(plate.number) == 8
        if kind == "yellow_green":
            assert parsed.size == "large" and plate.color == PlateColor.YELLOW_GREEN


def test_unknown_plate_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown plate kind"):
        make_plate(random.Random(0), "purple")


# ----------------------------------------------------------------------------------------------- truth


@pytest.mark.parametrize("seed", SEEDS)
def test_truth_uses_the_normalized_models_field_names(seed: int) -> None:
    person, vehicle = make_person(random.Random(seed)), make_vehicle(random.Random(seed))
    front, back = driving_truth(person, "front"), driving_truth(person, "back")
    v_front, v_back = vehicle_truth(vehicle, "front"), vehicle_truth(vehicle, "back")
    for model, truth in (
        (DrivingLicence, front),
        (DrivingLicenceBack, back),
        (VehicleLicenceFront, v_front),
        (VehicleLicenceBack, v_back),
    ):
        document = model.model_validate(truth)  # extra="forbid": an unknown key fails here
        assert document.values() == truth  # every field present, dates as ISO strings
    assert DrivingLicence.model_validate(front).birth_date == person.birth_date
    assert front["class"] == person.licence_class
    assert front["long_term"] is person.long_term


def test_old_and_new_layouts_differ_in_picture_not_in_truth() -> None:
    person = make_person(random.Random(3))
    new_image, new_truth = render_driving(person, "new", "front")
    old_image, old_truth = render_driving(person, "old", "front")
    assert new_truth == old_truth
    assert _difference(new_image, old_image) > 1.0


# ----------------------------------------------------------------------------------------------- pictures


def test_every_card_page_renders_at_card_size_with_its_truth() -> None:
    person, vehicle = make_person(random.Random(1)), make_vehicle(random.Random(1))
    pages = [
        (render_driving(person, "new", "front"), driving_truth(person, "front")),
        (render_driving(person, "old", "front"), driving_truth(person, "front")),
        (render_driving(person, "new", "back"), driving_truth(person, "back")),
        (render_vehicle(vehicle, "front"), vehicle_truth(vehicle, "front")),
        (render_vehicle(vehicle, "back"), vehicle_truth(vehicle, "back")),
    ]
    for (page, truth), expected in pages:
        assert page.size == CARD_SIZE and page.mode == "RGB"
        assert truth == expected
    assert CARD_SIZE[0] / CARD_SIZE[1] == pytest.approx(88 / 60, rel=0.01)


def test_bad_layout_or_side_is_refused() -> None:
    person = make_person(random.Random(1))
    with pytest.raises(ValueError, match="layout"):
        render_driving(person, "2013", "front")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="side"):
        render_vehicle(make_vehicle(random.Random(1)), "inside")  # type: ignore[arg-type]


def test_same_data_same_pixels_other_data_other_pixels() -> None:
    first = render_driving(make_person(random.Random(7)), "new", "front")[0]
    again = render_driving(make_person(random.Random(7)), "new", "front")[0]
    other = render_driving(make_person(random.Random(8)), "new", "front")[0]
    assert _digest(first) == _digest(again)
    assert _digest(first) != _digest(other)


@pytest.mark.parametrize(
    ("plate", "size"),
    [
        (PlateSpec("京A12345", PlateColor.BLUE), (440, 140)),
        (PlateSpec("粤BD12345", PlateColor.GREEN, kind="green"), (480, 140)),
        (PlateSpec("沪A12345", PlateColor.YELLOW, True, kind="yellow"), (440, 220)),
    ],
)
def test_plates_have_ga36_proportions(plate: PlateSpec, size: tuple[int, int]) -> None:
    image, truth = render_plate(plate)
    assert image.size == size
    assert truth == {"number": plate.number, "color": plate.color.value, "double_layer": plate.double_layer}


def _plate_ground(number: str, color: str) -> tuple[int, int, int]:
    """The plate's ground colour in the top margin, above the characters and below the frame line."""
    image, truth = render_plate(number, color)
    assert truth["color"] == color
    return image.getpixel((image.width // 2, 14))  # type: ignore[return-value]


def test_plate_colours_are_what_the_truth_says() -> None:
    r, g, b = _plate_ground("京A12345", "blue")
    assert b > r + 80 and b > g + 50
    r, g, b = _plate_ground("京A12345", "yellow")
    assert r > b + 80 and g > b + 80
    r, g, b = _plate_ground("京AD12345", "green")
    assert g > r and g > b
    assert min(_plate_ground("京A1234警", "white")) > 200
    assert max(_plate_ground("粤Z1234港", "black")) < 60


def test_plate_scene_boxes_frame_the_plates() -> None:
    plates = [PlateSpec("京A12345", PlateColor.BLUE), PlateSpec("沪B54321", PlateColor.BLUE)]
    scene, truths = render_plate_scene(plates, random.Random(4), size=(1280, 720))
    assert [truth["number"] for truth in truths] == ["京A12345", "沪B54321"]
    for truth in truths:
        box = truth["box"]
        assert isinstance(box, dict)
        assert box["width"] > 2 * box["height"] > 0
        crop = np.asarray(scene.crop((box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"])))
        r, g, b = crop[..., 0].mean(), crop[..., 1].mean(), crop[..., 2].mean()
        assert b > r + 40 and b > g, "a blue plate fills its box"
    assert truths[0]["box"]["x"] < truths[1]["box"]["x"]  # type: ignore[index]


# ----------------------------------------------------------------------------------------------- degradations


@pytest.fixture(scope="module")
def card() -> Image.Image:
    image = render_vehicle(make_vehicle(random.Random(2)), "front")[0]
    return image.resize((CARD_SIZE[0] // 2, CARD_SIZE[1] // 2))


@pytest.mark.parametrize("kind", sorted(DEGRADATIONS))
def test_each_degradation_changes_the_image(card: Image.Image, kind: str) -> None:
    degraded = degrade(card, [kind], random.Random(1))
    assert degraded.mode == "RGB"
    assert _difference(card, degraded) > 0.5


@pytest.mark.parametrize(("kind", "turned"), [("rot90", True), ("rot180", False), ("rot270", True)])
def test_quarter_turns_swap_sides_exactly(card: Image.Image, kind: str, turned: bool) -> None:
    degraded = degrade(card, [kind], random.Random(1))
    assert degraded.size == ((card.height, card.width) if turned else card.size)
    back = {"rot90": Image.Transpose.ROTATE_270, "rot180": Image.Transpose.ROTATE_180}
    back["rot270"] = Image.Transpose.ROTATE_90
    assert _digest(degraded.transpose(back[kind])) == _digest(card)


def test_small_makes_a_card_about_400_pixels_wide() -> None:
    page = render_driving(make_person(random.Random(1)), "new", "front")[0]
    small = degrade(page, ["small"], random.Random(1))
    assert 380 <= small.width <= 420
    assert small.width / small.height == pytest.approx(page.width / page.height, rel=0.02)


def test_degradations_are_deterministic_and_ordered_by_stage(card: Image.Image) -> None:
    kinds = ["jpeg", "rotate", "glare", "small"]
    first = degrade(card, kinds, random.Random(5))
    assert _digest(first) == _digest(degrade(card, list(reversed(kinds)), random.Random(5)))
    assert _digest(first) != _digest(degrade(card, kinds, random.Random(6)))


def test_unknown_degradation_is_refused(card: Image.Image) -> None:
    with pytest.raises(ValueError, match="unknown degradation"):
        degrade(card, ["sepia"], random.Random(0))
    with pytest.raises(ValueError, match="preset"):
        choose("heavy", random.Random(0))


def test_presets_pick_known_kinds() -> None:
    rng = random.Random(0)
    assert choose("none", rng) == []
    mild = {name for _ in range(50) for name in choose("mild", rng)}
    assert mild and all(DEGRADATIONS[name].mild for name in mild)
    for _ in range(50):
        picked = choose("all", rng, card=False)
        assert 1 <= len(picked) <= 4 and len(set(picked) & set(ROTATIONS)) <= 1
        assert "sleeve" not in picked


@pytest.mark.parametrize(
    "kinds", [["rotate"], ["perspective"], ["rot90"], ["rot270", "small"], ["perspective", "rot180"]]
)
@pytest.mark.parametrize("backdrop", ["desk", "fill"])
def test_tracked_boxes_follow_the_pixels(kinds: list[str], backdrop: str) -> None:
    """A magenta rectangle on black: after any geometric chain, its pixels fill exactly the moved box."""
    image = Image.new("RGB", (600, 400), (0, 0, 0))
    box = {"x": 230, "y": 160, "width": 140, "height": 50}
    ImageDraw.Draw(image).rectangle((230, 160, 369, 209), fill=(255, 0, 255))
    degraded, (moved,) = degrade_tracked(image, kinds, random.Random(9), [box], backdrop=backdrop)  # type: ignore[arg-type]
    pixels = np.asarray(degraded, dtype=np.int16)
    magenta = (pixels[..., 0] > 128) & (pixels[..., 2] > 128) & (pixels[..., 1] < 100)
    (top, left), (bottom, right) = np.argwhere(magenta).min(axis=0), np.argwhere(magenta).max(axis=0)
    tolerance = 3
    assert abs(left - moved["x"]) <= tolerance and abs(top - moved["y"]) <= tolerance
    assert abs(right + 1 - (moved["x"] + moved["width"])) <= tolerance
    assert abs(bottom + 1 - (moved["y"] + moved["height"])) <= tolerance


# ----------------------------------------------------------------------------------------------- dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("specimens")
    generate(out, count=2, seed=11, degradations="all")
    return out


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_dataset_card_folders_pair_images_with_truth(dataset: Path) -> None:
    models = {
        ("driving", "front"): DrivingLicence,
        ("driving", "back"): DrivingLicenceBack,
        ("vehicle", "front"): VehicleLicenceFront,
        ("vehicle", "back"): VehicleLicenceBack,
    }
    for kind in ("driving", "vehicle"):
        images = sorted((dataset / kind).glob("*.jpg"))
        assert len(images) == 2
        sides = set()
        for image_path in images:
            truth_path = image_path.with_name(image_path.stem + ".gt.json")
            truth = json.loads(truth_path.read_text(encoding="utf-8"))
            assert {"kind", "side", "degradations", "fields"} <= truth.keys()
            assert truth["kind"] == kind and truth["side"] in ("front", "back")
            assert all(name in DEGRADATIONS for name in truth["degradations"])
            models[(kind, truth["side"])].model_validate(truth["fields"])
            with Image.open(image_path) as image:
                assert image.format == "JPEG" and min(image.size) > 100
            sides.add(truth["side"])
        assert sides == {"front", "back"}


def test_dataset_plate_labels_point_at_files_next_to_them(dataset: Path) -> None:
    labels = dataset / "plates" / "labels.csv"
    with labels.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames is not None and reader.fieldnames[:2] == ["file", "plate"]
        rows = list(reader)
    assert {row["source"] for row in rows} == {"crop", "scene"}
    assert sum(row["source"] == "crop" for row in rows) == 2
    for row in rows:
        path = labels.parent / row["file"]
        assert path.is_file(), row["file"]
        assert parse_plate(row["plate"]) is not None
        assert row["color"] in {color.value for color in PlateColor}
        if row["source"] == "scene":
            with Image.open(path) as image:
                width, height = image.size
            x, y, w, h = (int(row[key]) for key in ("x", "y", "width", "height"))
            assert x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= width and y + h <= height


def test_dataset_is_deterministic_per_seed_and_count_independent(dataset: Path, tmp_path: Path) -> None:
    """Item i of a seed is the same picture whatever the count: a count-1 run is a prefix of a count-2 run."""
    generate(tmp_path / "again", count=1, seed=11, degradations="all")
    generate(tmp_path / "other", count=1, seed=12, degradations="none")
    again, full = _tree_digest(tmp_path / "again"), _tree_digest(dataset)
    assert len(again) > 5
    assert all(full[name] == digest for name, digest in again.items() if not name.endswith("labels.csv"))
    again_rows = (tmp_path / "again" / "plates" / "labels.csv").read_text(encoding="utf-8").splitlines()
    full_rows = (dataset / "plates" / "labels.csv").read_text(encoding="utf-8").splitlines()
    assert again_rows == full_rows[: len(again_rows)]
    assert set(_tree_digest(tmp_path / "other").values()).isdisjoint(full.values())


def test_explicit_degradation_list_is_applied_to_every_image(tmp_path: Path) -> None:
    generate(tmp_path, count=1, seed=1, degradations=["small", "rot90"])
    for truth_path in (tmp_path / "driving").glob("*.gt.json"):
        assert json.loads(truth_path.read_text(encoding="utf-8"))["degradations"] == ["rot90", "small"]
    for image_path in (tmp_path / "vehicle").glob("*.jpg"):
        with Image.open(image_path) as image:
            assert image.height > image.width  # turned sideways, then shrunk


# ----------------------------------------------------------------------------------------------- cli, font


def test_sample_command_writes_the_readme_files(tmp_path: Path) -> None:
    assert main(["sample", "--out", str(tmp_path)]) == 0
    for name in SAMPLE_FILES:
        with Image.open(tmp_path / name) as image:
            assert image.format == "JPEG"
            if name != "plate.jpg":
                assert image.size == CARD_SIZE
    truth = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    assert set(truth) == set(SAMPLE_FILES)
    assert id_number_valid(truth["driving_front.jpg"]["number"])
    assert vin_valid(truth["vehicle_front.jpg"]["vin"])
    assert truth["plate.jpg"]["number"] == truth["vehicle_front.jpg"]["plate_number"]
    valid_to = date.fromisoformat(truth["driving_front.jpg"]["valid_to"])
    assert valid_to > REFERENCE_DATE + timedelta(days=365 * 5), "the demo licence is not about to expire"


def test_dataset_command_and_its_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--count", "1", "--seed", "4", "--degrade", "none"]) == 0
    assert len(list((tmp_path / "driving").glob("*.gt.json"))) == 1
    assert main(["--out", str(tmp_path / "bad"), "--count", "1", "--degrade", "sepia"]) == 2
    assert "sepia" in capsys.readouterr().err
    args = ["--count", "1", "--seed", "4", "--degrade", "none"]
    assert main(["--out", str(tmp_path / "real"), *args, "--names", "real"]) == 0
    truths = [json.loads(path.read_text())["fields"] for path in tmp_path.glob("*/driving/*.gt.json")]
    assert (
        truths[0]["name"]
        != json.loads(next((tmp_path / "driving").glob("*.gt.json")).read_text())["fields"]["name"]
    )


def test_missing_cjk_font_names_the_package_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(fonts, "KNOWN_FONTS", ())
    monkeypatch.setattr(
        fonts, "_fontconfig_candidates", lambda: ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"]
    )
    monkeypatch.setenv(fonts.FONT_ENV, str(tmp_path / "missing.ttf"))
    fonts.find_cjk_font.cache_clear()
    try:
        with pytest.raises(fonts.FontNotFound, match="fonts-wqy-zenhei"):
            fonts.find_cjk_font()
    finally:
        fonts.find_cjk_font.cache_clear()
