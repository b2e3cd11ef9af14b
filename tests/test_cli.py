"""`licence-bot` subcommands in-process (scripted vendors, real SQLite) and the embedded default."""

from __future__ import annotations

import codecs
import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.storage import SessionLog, SessionRow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config_file(tmp_path: Path):
    def write(primary: str = "ok", extra: str = "") -> Path:
        path = tmp_path / "config.toml"
        path.write_text(
            f'[bot]\ndatabase = "{tmp_path / "log.db"}"\n{extra}'
            '[vendors]\ndriving = ["scripted"]\nvehicle = ["scripted"]\nplate = ["scripted"]\n'
            f'[vendors.scripted]\noutcome = "{primary}"\n',
            encoding="utf-8",
        )
        return path

    return write


@pytest.fixture
def photo(tmp_path: Path, photo_bytes: bytes) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(photo_bytes)
    return path


def test_recognize_json_prints_the_documented_object(config_file, photo, capsys):
    code = main(["recognize", str(photo), "--kind", "plate", "--json", "--config", str(config_file())])
    assert code == 0
    [line] = capsys.readouterr().out.strip().splitlines()
    result = json.loads(line)
    assert {"image", "kind", "side", "vendor", "status", "fields", "warnings", "plates"} <= set(result)
    assert result["image"] == str(photo)
    assert result["status"] == "ok" and result["vendor"] == "scripted"
    assert result["fields"]["number"] == "京A12345" and result["plates"][0]["color"] == "blue"


def test_recognize_text_shows_the_chat_reply(config_file, photo, capsys):
    assert main(["recognize", str(photo), "--kind", "driving", "--config", str(config_file())]) == 0
    out = capsys.readouterr().out
    assert "11010519491231002X" in out  # the CLI is a private chat: nothing masked


def test_exit_codes(config_file, photo, tmp_path, capsys):
    not_found = config_file("not_found")
    assert main(["recognize", str(photo), "--kind", "driving", "--config", str(not_found)]) == 1
    gif = tmp_path / "anim.gif"
    gif.write_bytes(b"GIF89a" + b"\0" * 64)
    assert main(["recognize", str(gif), "--kind", "driving", "--config", str(config_file())]) == 2
    missing = str(tmp_path / "missing.jpg")
    assert main(["recognize", missing, "--kind", "plate", "--config", str(config_file())]) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text('[bot]\nlanguage = "fr"\n', encoding="utf-8")
    assert main(["recognize", str(photo), "--kind", "plate", "--config", str(bad)]) == 2
    assert "bot.language" in capsys.readouterr().err


def test_an_unreadable_file_still_gets_its_json_object_and_csv_row(config_file, photo, tmp_path, capsys):
    """One result per input, in order, so a script can pair them; the session log gets no row."""
    missing, folder = tmp_path / "missing.jpg", tmp_path
    out_csv = tmp_path / "out.csv"
    config = str(config_file())
    images = [str(photo), str(missing), str(folder), str(photo)]
    args = ["recognize", *images, "--kind", "driving", "--json", "--csv", str(out_csv), "--config", config]
    assert main(args) == 2
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [item["image"] for item in printed] == images
    assert [item["status"] for item in printed] == ["ok", "unreadable", "unreadable", "ok"]
    assert printed[1]["error"]["category"] == "unreadable" and printed[1]["error"]["reason"]
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8-sig")))
    assert [(row["image"], row["status"]) for row in rows] == [(i["image"], i["status"]) for i in printed]
    assert len(SessionLog(tmp_path / "log.db").history()) == 2
    assert main(["recognize", str(missing), "--kind", "plate", "--json", "--config", config]) == 2
    assert json.loads(capsys.readouterr().out)["plates"] == []  # as every plate object has it


def test_several_photos_draw_no_progress_bar_into_a_log_file(config_file, photo, capsys):
    """stderr here is no terminal, as under systemd or a redirect: a bar's redraws would be noise."""
    assert (
        main(["recognize", str(photo), str(photo), "--kind", "driving", "--config", str(config_file())]) == 0
    )
    errors = capsys.readouterr().err
    assert "image/s" not in errors and "100%" not in errors


def test_a_dash_is_standard_output_for_export_and_refused_for_the_recognize_csv(
    config_file, photo, tmp_path, capsys, monkeypatch
):
    """`--csv -` made a file named '-'; standard output already carries recognize's replies."""
    SessionLog(tmp_path / "log.db").close()
    config = str(config_file())
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--output", "-", "--config", config]) == 0
    assert capsys.readouterr().out.startswith("id,") and not (tmp_path / "-").exists()
    with pytest.raises(SystemExit) as exited:
        main(["recognize", str(photo), "--kind", "driving", "--csv", "-", "--config", config])
    assert exited.value.code == 2 and "--csv: needs a file" in capsys.readouterr().err


def test_csv_history_export_and_stats(config_file, photo, tmp_path, capsys):
    config = str(config_file())
    out_csv = tmp_path / "out.csv"
    assert (
        main(
            [
                "recognize",
                str(photo),
                str(photo),
                "--kind",
                "driving",
                "--csv",
                str(out_csv),
                "--config",
                config,
            ]
        )
        == 0
    )
    assert out_csv.read_bytes().startswith(codecs.BOM_UTF8)  # for Excel: see CSV_FILE_ENCODING
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8-sig")))
    assert [r["status"] for r in rows] == ["ok", "ok"] and rows[0]["number"] == "11010519491231002X"
    capsys.readouterr()

    assert main(["history", "--config", config]) == 0
    assert capsys.readouterr().out.count("driving/front") == 2

    assert main(["export", "--format", "json", "--config", config]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert len(exported) == 2 and "11010519491231002X" not in json.dumps(exported, ensure_ascii=False)

    assert main(["stats", "--config", config]) == 0
    stats = capsys.readouterr().out
    assert "sessions: 2" in stats and "scripted" in stats
    scripted = next(line for line in stats.splitlines() if line.startswith("scripted"))
    assert scripted.split()[-1] == "-"  # no queue of its own: nothing waited


def test_check_config_and_serve_without_channels(config_file, capsys):
    assert main(["check-config", "--config", str(config_file())]) == 0
    assert "driving  -> scripted" in capsys.readouterr().out
    assert main(["serve", "--config", str(config_file())]) == 2
    assert "no chat channel" in capsys.readouterr().err


def test_check_config_names_a_page_no_vendor_in_its_chain_reads(tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text(
        f'[bot]\ndatabase = "{tmp_path / "log.db"}"\n[vendors]\nvehicle = ["megvii"]\n'
        '[vendors.megvii]\napi_key = "k"\napi_secret = "s"\n',
        encoding="utf-8",
    )
    assert main(["check-config", "--config", str(path)]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if "note:" in line]
    assert notes == [
        "  note: no vendor in the vehicle chain reads the back page; users are told so",
        "  note: no chat channel would start, so `licence-bot serve` would exit 2",
    ]


def test_only_the_commands_that_call_vendors_need_their_keys(tmp_path, photo, capsys, monkeypatch):
    """Keys often live only in the service's environment; an admin's shell must still read the log."""
    for name in ("LICENCE_BOT_VENDORS__TENCENT__SECRET_ID", "LICENCE_BOT_VENDORS__TENCENT__SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[bot]\ndatabase = "{tmp_path / "log.db"}"\n[vendors]\ndriving = ["tencent", "local"]\n',
        encoding="utf-8",
    )
    config = str(path)
    SessionLog(tmp_path / "log.db").close()
    for command in (["stats"], ["history"], ["export", "--format", "json"]):
        assert main([*command, "--config", config]) == 0, command
    capsys.readouterr()
    for command in (["check-config"], ["recognize", str(photo), "--kind", "driving"], ["serve"]):
        assert main([*command, "--config", config]) == 2, command
        assert "vendors.tencent: no secret_id/secret_key" in capsys.readouterr().err


def test_the_commands_that_only_read_the_log_leave_a_mistyped_path_alone(tmp_path, capsys):
    """An empty log made at the wrong path would report "no sessions yet" and hide the typo."""
    missing = tmp_path / "logs" / "sesions.db"
    path = tmp_path / "config.toml"
    path.write_text(f'[bot]\ndatabase = "{missing}"\n', encoding="utf-8")
    for command in (["stats"], ["history"], ["export", "--format", "json"]):
        assert main([*command, "--config", str(path)]) == 2, command
        error = capsys.readouterr().err
        assert str(missing) in error and "no session recorded yet" in error
    assert not missing.parent.exists()


def test_history_shows_times_in_the_configured_zone_and_says_when_a_filter_matches_nothing(tmp_path, capsys):
    log = SessionLog(tmp_path / "log.db")
    log.record(SessionRow(created_at=datetime(2026, 11, 22, 19, 30, tzinfo=UTC), kind="plate", status="ok"))
    log.close()
    path = tmp_path / "config.toml"
    path.write_text(
        f'[bot]\ndatabase = "{tmp_path / "log.db"}"\ntimezone = "Asia/Shanghai"\n', encoding="utf-8"
    )
    assert main(["history", "--config", str(path)]) == 0
    zone, header, line = capsys.readouterr().out.splitlines()
    assert zone == "times in Asia/Shanghai"
    assert line[header.index("time") :].startswith("2026-11-23 03:30:00")  # 19:30 UTC is 03:30 next day
    assert line[header.index("page") :].startswith("plate/front")  # under its heading
    assert main(["history", "--platform", "wechat", "--config", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "no matching sessions"


def test_check_config_says_which_channels_would_start_and_names_what_is_missing(config_file, capsys):
    wechat = '[wechat]\ntoken = "t"\napp_id = "wx1"\napp_secret = "s"\n'
    wecom = '[wecom]\ncorp_id = "ww1"\nagent_id = 2\nsecret = "s"\ntoken = "t"\nencoding_aes_key = ""\n'
    assert main(["check-config", "--config", str(config_file(extra="[telegram]\n" + wechat + wecom))]) == 0
    out = capsys.readouterr().out
    assert "channel telegram: not started: telegram.token not set" in out
    assert "channel wecom: not started: wecom.encoding_aes_key not set" in out
    assert "channel wechat: starts" in out and "no chat channel would start" not in out


def test_unknown_vendor_flag_is_bad_input(config_file, photo):
    args = ["recognize", str(photo), "--kind", "plate", "--vendor", "nope", "--config", str(config_file())]
    assert main(args) == 2


def test_a_vendor_flag_without_its_keys_is_named_not_a_traceback(config_file, photo, capsys):
    args = ["recognize", str(photo), "--kind", "plate", "--vendor", "megvii", "--config", str(config_file())]
    assert main(args) == 2
    assert "vendors.megvii: no api_key/api_secret" in capsys.readouterr().err


def test_embedded_default_reads_a_rendered_licence_end_to_end(tmp_path):
    """The README's main job: `python -m bot recognize` with no config reads a specimen the suite renders."""
    import random

    from tests.specimens import make_person, render_driving

    person = make_person(random.Random(7))
    image, truth = render_driving(person, layout="new", side="front")
    path = tmp_path / "driving.jpg"
    image.convert("RGB").save(path, quality=92)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "recognize", str(path), "--kind", "driving", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["vendor"] == "local" and result["status"] == "ok"
    assert result["fields"]["number"] == truth["number"]
    assert result["fields"]["name"] == truth["name"]
    assert (tmp_path / "licence-bot.db").exists()  # the default session log in the working directory


def test_a_session_log_that_cannot_be_opened_is_named_not_a_traceback(tmp_path, capsys):
    not_sqlite = tmp_path / "log.db"
    not_sqlite.write_bytes(b"this is a text file, not a database" * 100)
    path = tmp_path / "config.toml"
    path.write_text(f'[bot]\ndatabase = "{not_sqlite}"\n', encoding="utf-8")
    assert main(["history", "--config", str(path)]) == 2
    assert "session log" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:  # argparse's own error, before anything is opened
        main(["history", "--limit", "0", "--config", str(path)])
    assert stopped.value.code == 2


def test_an_export_file_is_readable_by_its_owner_alone(config_file, tmp_path):
    out = tmp_path / "sessions.json"
    SessionLog(tmp_path / "log.db").close()
    assert main(["export", "--format", "json", "--output", str(out), "--config", str(config_file())]) == 0
    assert out.stat().st_mode & 0o777 == 0o600


def test_a_recognize_csv_is_readable_by_its_owner_alone(config_file, photo, tmp_path):
    out = tmp_path / "results.csv"  # every field unmasked
    config = str(config_file())
    assert main(["recognize", str(photo), "--kind", "driving", "--csv", str(out), "--config", config]) == 0
    assert out.stat().st_mode & 0o777 == 0o600


def test_a_run_cut_short_leaves_an_earlier_csv_as_it_was(config_file, photo, tmp_path, monkeypatch):
    from handlers.recognize import Recognizer

    earlier = tmp_path / "results.csv"
    earlier.write_text("image,status\nyesterday.jpg,ok\n", encoding="utf-8")

    async def interrupted(self, request):
        raise KeyboardInterrupt  # the operator's Ctrl-C halfway through

    monkeypatch.setattr(Recognizer, "recognize", interrupted)
    config = str(config_file())
    with pytest.raises(KeyboardInterrupt):
        main(["recognize", str(photo), "--kind", "driving", "--csv", str(earlier), "--config", config])
    assert earlier.read_text(encoding="utf-8") == "image,status\nyesterday.jpg,ok\n"


def test_an_output_path_that_cannot_be_written_is_named_before_any_work(config_file, photo, tmp_path, capsys):
    config = str(config_file())
    nowhere = tmp_path / "no such folder" / "out.csv"
    reading = ["recognize", str(photo), "--kind", "driving"]
    assert main([*reading, "--csv", str(nowhere), "--config", config]) == 2
    assert f"cannot write {nowhere}" in capsys.readouterr().err
    assert main(["history", "--config", config]) == 0
    assert "driving" not in capsys.readouterr().out  # refused before the photo was read, so no session
    assert main(["export", "--output", str(nowhere), "--config", config]) == 2
    assert f"cannot write {nowhere}" in capsys.readouterr().err


@pytest.mark.parametrize("rows", [0, 2])
def test_export_has_the_same_columns_with_or_without_rows(config_file, photo, tmp_path, capsys, rows):
    config = str(config_file())
    SessionLog(tmp_path / "log.db").close()  # as `serve` leaves it before its first photo
    if rows:
        assert main(["recognize", str(photo), str(photo), "--kind", "driving", "--config", config]) == 0
    out_csv = tmp_path / "sessions.csv"
    assert main(["export", "--output", str(out_csv), "--config", config]) == 0
    assert out_csv.read_bytes().startswith(codecs.BOM_UTF8)
    with out_csv.open(encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        assert len(list(reader)) == rows
        assert {"id", "created_at", "platform", "kind", "status", "fields"} <= set(reader.fieldnames or [])
    capsys.readouterr()
    assert main(["export", "--config", config]) == 0
    assert capsys.readouterr().out.startswith("id,")  # no byte-order mark on standard output
    assert main(["export", "--format", "json", "--config", config]) == 0
    assert len(json.loads(capsys.readouterr().out)) == rows
