"""config.toml loading: defaults, env overrides for secrets, and errors that name the key."""

import re
from pathlib import Path

import pytest

import tests.fakes.vendors  # noqa: F401 - registers the scripted vendors
from bot.config import ConfigError, _read_toml, check_vendor_credentials, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_use_the_embedded_engine_everywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config.toml here
    config = load_config(environ={})
    assert config.vendors.driving == config.vendors.vehicle == config.vendors.plate == ["local"]
    assert config.bot.language == "zh"
    assert config.bot.store_fields == "masked"
    assert config.bot.expiry_warning_days == 90
    assert str(config.bot.database) == "licence-bot.db"


def test_config_toml_in_working_directory_is_read(tmp_path, monkeypatch):
    write(tmp_path, '[bot]\nlanguage = "en"\n')
    monkeypatch.chdir(tmp_path)
    assert load_config(environ={}).bot.language == "en"


def test_example_config_is_valid_and_matches_the_defaults(tmp_path, monkeypatch):
    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    monkeypatch.chdir(tmp_path)
    from_example, defaults = load_config(example, environ={}), load_config(environ={})
    assert from_example.bot == defaults.bot
    for kind in ("driving", "vehicle", "plate"):
        assert from_example.vendors.chain(kind) == defaults.vendors.chain(kind)


def test_every_commented_key_of_the_example_is_valid_as_shown(tmp_path):
    """An operator uncomments the tables they need and fills in their own values; what is shown must
    load as it stands (a `secret_token = ""` once did not)."""
    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    commented = re.compile(r"^# (\[[a-z_.]+\]|[a-z_]+ = .*)$")
    lines = [
        (match.group(1) if (match := commented.match(line)) else line)
        for line in example.read_text().splitlines()
    ]
    assert sum(line.startswith("[") for line in lines) > 5  # the channel and vendor tables are in
    load_config(write(tmp_path, "\n".join(lines) + "\n"), environ={})


def test_environment_overrides_reach_nested_vendor_tables(tmp_path):
    path = write(tmp_path, '[vendors]\ndriving = ["scripted"]\n[vendors.scripted]\noutcome = "ok"\n')
    env = {"LICENCE_BOT_VENDORS__SCRIPTED__OUTCOME": "server", "LICENCE_BOT_BOT__EXPIRY_WARNING_DAYS": "30"}
    config = load_config(path, environ=env)
    assert config.vendors.table("scripted")["outcome"] == "server"
    assert config.bot.expiry_warning_days == 30


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[bot]\nlanguage = "fr"\n', "bot.language"),
        ("[bot]\nexpiry_warning_days = -1\n", "bot.expiry_warning_days"),
        ('[bot]\nstore_fields = "everything"\n', "bot.store_fields"),
        ("[bot]\nunknown_key = 1\n", "bot.unknown_key"),
        ('[vendors]\ndriving = ["nosuchvendor"]\n', "vendors.driving"),
        ("[vendors]\nplate = []\n", "vendors.plate"),
        ('[vendors.scripted]\noutcome = "sometimes"\n', "vendors.scripted.outcome"),
        ('[vendors.scripted]\ntimeout = "soon"\n', "vendors.scripted.timeout"),
        ("[vendors.nosuchvendor]\nkey = 1\n", "vendors.nosuchvendor"),
        ('[bot]\ntimezone = "Mars/Olympus"\n', "bot.timezone"),
        ("[vendors.local]\ntimeout = 0\n", "vendors.local.timeout"),  # every call would time out
    ],
)
def test_bad_config_names_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text), environ={})
    assert key in str(error.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[vendors]\ndriving = ["tencent", "local"]\n', "vendors.tencent: no secret_id/secret_key"),
        ('[vendors]\nplate = ["huawei"]\n[vendors.huawei]\nak = "a"\nsk = "s"\n', "no project_id"),
        ('[vendors]\nplate = ["huawei"]\n[vendors.huawei]\nproject_id = "p"\n', "no ak/sk or iam_user"),
        ('[vendors]\nplate = ["huawei"]\n', "no project_id; no ak/sk or iam_user"),  # both at once
        ('[vendors]\nvehicle = ["tencent_legacy"]\n[vendors.tencent_legacy]\nsecret_id = "i"\n', "no app_id"),
        ('[vendors]\nplate = ["baidu"]\n[vendors.baidu]\napi_key = ""\nsecret_key = " "\n', "no api_key/"),
        ('[vendors]\ndriving = ["megvii", "local"]\n', "vendors.megvii: no api_key/api_secret"),
    ],
)
def test_a_chained_vendor_without_its_keys_is_named(tmp_path, text, message):
    """Every call would fail, and an auth failure does not fall through to the next vendor."""
    config = load_config(write(tmp_path, text), environ={})  # loads: `stats` needs no vendor keys
    with pytest.raises(ConfigError, match=message):
        check_vendor_credentials(config)


def test_vendor_keys_may_come_from_the_environment_and_an_unused_table_needs_none(tmp_path):
    chained = write(tmp_path, '[vendors]\ndriving = ["tencent", "local"]\n')
    prefix = "LICENCE_BOT_VENDORS__TENCENT__"
    keys = {f"{prefix}SECRET_ID": "id", f"{prefix}SECRET_KEY": "key"}
    check_vendor_credentials(load_config(chained, environ=keys))
    unused = write(tmp_path, '[vendors.tencent]\nregion = "ap-beijing"\n')  # filled in for later
    check_vendor_credentials(load_config(unused, environ={}))


def test_a_bad_value_from_the_environment_names_its_variable(tmp_path):
    """config.toml may say `port = 8080` while the variable says otherwise: the message says where to look."""
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, "[server]\nport = 8080\n"), environ={"LICENCE_BOT_SERVER__PORT": "abc"})
    message = str(error.value)
    assert message.startswith("server.port: ") and "(set by LICENCE_BOT_SERVER__PORT)" in message
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, '[server]\nport = "abc"\n'), environ={})
    assert "LICENCE_BOT" not in str(error.value)


def test_a_list_item_names_the_variable_that_set_the_list_and_a_table_error_names_the_table(tmp_path):
    path = write(
        tmp_path, '[telegram]\ntoken = "1:a"\nmode = "webhook"\nwebhook_url = "https://x.test/hook"\n'
    )
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={"LICENCE_BOT_TELEGRAM__ALLOWED_USERS": "1,abc"})
    assert str(error.value).startswith("telegram.allowed_users.1: ")
    assert str(error.value).endswith("(set by LICENCE_BOT_TELEGRAM__ALLOWED_USERS)")
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, '[telegram]\ntoken = "1:a"\nmode = "webhook"\n'), environ={})
    assert str(error.value).startswith("telegram: ") and "webhook_url" in str(error.value)


def test_every_error_names_its_key_in_full_and_a_typo_is_called_unknown(tmp_path):
    text = '[vendors.tencent]\nsecret_idd = "x"\ntimeout = "soon"\n'
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text), environ={})
    problems = dict(part.split(": ", 1) for part in str(error.value).split("; "))
    assert set(problems) == {"vendors.tencent.secret_idd", "vendors.tencent.timeout"}
    assert problems["vendors.tencent.secret_idd"].startswith("unknown key")


def test_bad_toml_and_missing_file_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[bot\n"), environ={})
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('[bot]\nlanguage = "zh" # café\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(latin1, environ={})
    with pytest.raises(ConfigError, match="cannot be read"):
        _read_toml(tmp_path)  # a directory: any OSError (tests run as root, who reads a chmod 000 file)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.toml", environ={})


def test_variables_that_are_no_section_key_override_are_left_alone(tmp_path):
    """Kubernetes gives a service called licence-bot LICENCE_BOT_SERVICE_HOST, LICENCE_BOT_PORT, ...;
    they once stopped the bot as unknown sections."""
    env = {
        "LICENCE_BOT_SERVICE_HOST": "10.0.0.5",
        "LICENCE_BOT_PORT": "tcp://10.0.0.5:8080",
        "LICENCE_BOT_BOT__LANGUAGE": "en",
    }
    assert load_config(write(tmp_path, ""), environ=env).bot.language == "en"


WECHAT = '[wechat]\ntoken = "t"\napp_id = "wx1"\napp_secret = "s"\n'
WECOM = (
    '[wecom]\ncorp_id = "ww1"\nagent_id = 1000002\nsecret = "s"\ntoken = "t"\n'
    f'encoding_aes_key = "{"a" * 43}"\n'
)
TELEGRAM_HOOK = (
    '[telegram]\ntoken = "1:x"\nmode = "webhook"\nsecret_token = "s"\n'
    'webhook_url = "https://bot.example.com/wechat"\n'
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # Starlette routes a path to the first channel that claims it; the other's callbacks all fail.
        (WECHAT + 'path = "/hook"\n' + WECOM + 'path = "/hook"\n', "wecom.path: /hook is also wechat's"),
        (WECHAT + TELEGRAM_HOOK, "wechat.path: /wechat is also telegram's"),
        (WECOM + 'path = "/healthz"\n', "wecom.path: /healthz is the server's own route"),
        (WECHAT + 'path = "/metrics"\n', "wechat.path: /metrics is the server's own route"),
        # The server matches the decoded path: Telegram's posts to /hoo%6B went to WeChat's /hook.
        (
            WECHAT + 'path = "/hook"\n' + TELEGRAM_HOOK.replace("/wechat", "/hoo%6B"),
            "wechat.path: /hook is also telegram's",
        ),
    ],
)
def test_two_started_channels_may_not_share_a_webhook_path(tmp_path, text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(write(tmp_path, text), environ={})


def test_a_path_only_counts_for_a_channel_that_starts(tmp_path):
    unstarted_wecom = '[wecom]\npath = "/wechat"\n'  # no credentials: never routed
    polling = '[telegram]\ntoken = "1:x"\nwebhook_url = "https://bot.example.com/wechat"\n'
    config = load_config(write(tmp_path, WECHAT + unstarted_wecom + polling), environ={})
    assert config.channel_table("wecom") == {"path": "/wechat"}


def test_a_path_conflict_set_by_a_variable_names_it(tmp_path):
    environ = {"LICENCE_BOT_WECOM__PATH": "/wechat"}
    with pytest.raises(ConfigError, match=re.escape("wecom.path (set by LICENCE_BOT_WECOM__PATH): /wechat")):
        load_config(write(tmp_path, WECHAT + WECOM), environ=environ)
