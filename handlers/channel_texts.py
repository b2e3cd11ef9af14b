"""What the channels themselves say, beyond the replies (replies.py): Telegram's menus and buttons,
WeChat's welcome and prompts, in both languages. Kept here so that every word a user reads lives in
handlers/, and bot/channels only delivers it."""

from __future__ import annotations


def pick(texts: dict[str, str], language: str) -> str:
    """The text in `language`, Chinese where there is none."""
    return texts.get(language, texts["zh"])


# ------------------------------------------------------------------------------------------- Telegram

#: The command menus Telegram shows beside the text box.
MENU: dict[str, list[tuple[str, str]]] = {
    "zh": [
        ("driving", "识别驾驶证主页"),
        ("driving_back", "识别驾驶证副页"),
        ("vehicle", "识别行驶证主页"),
        ("vehicle_back", "识别行驶证副页"),
        ("plate", "识别车牌"),
        ("history", "我最近的识别记录"),
        ("lang", "切换语言：/lang zh 或 /lang en"),
        ("cancel", "取消当前操作"),
        ("help", "使用说明"),
        ("start", "开始"),
    ],
    "en": [
        ("driving", "Read a driving licence (main page)"),
        ("driving_back", "Read a driving licence (second page)"),
        ("vehicle", "Read a vehicle licence (main page)"),
        ("vehicle_back", "Read a vehicle licence (second page)"),
        ("plate", "Read a licence plate"),
        ("history", "My latest recognitions"),
        ("lang", "Reply language: /lang zh or /lang en"),
        ("cancel", "Cancel what is waiting"),
        ("help", "How to use this bot"),
        ("start", "Start"),
    ],
}
ADMIN_MENU = {"zh": [("stats", "识别统计（管理员）")], "en": [("stats", "Recognition statistics (admin)")]}

#: Inline-button answers.
NOT_YOURS = {
    "zh": "这是别人的照片，请发送你自己的照片。",
    "en": "That photo is someone else's; send your own.",
}
BOXES_GONE = {
    "zh": "这张照片已不在内存中，请重新发送。",
    "en": "That photo is no longer kept; please send it again.",
}
CHOSEN = {"zh": "已选择：{label}", "en": "Chosen: {label}"}
PLATE_WORD = {"zh": "车牌", "en": "Plate"}


# ------------------------------------------------------------------------------------- WeChat, WeCom

WELCOME = {
    "zh": "欢迎使用证照识别！",
    "en": "Welcome! I read driving licences, vehicle licences and plates.",
}
#: WeChat has no slash commands: the help lists the words a user types.
PICK_HINT = {"zh": "请回复数字或证件名称。", "en": "Reply with the number or the name."}
COLLECT_LATER = {
    "zh": "正在识别，请稍候。完成后发送任意文字即可获取结果。",
    "en": "Still reading your photo. Send any text in a moment to get the result.",
}
MORE_WAITING = {"zh": "（发送任意文字查看后续内容）", "en": "(send any text for the rest)"}
NOT_A_PHOTO = {
    "zh": "我只能读取照片和文字。请发送证件或车牌的照片，发送“帮助”查看说明。",
    "en": "I can only read photos and text. Send a photo of the card or plate, or “help”.",
}
#: The same where commands have a slash (Telegram, where a bare word in a group never reaches the bot).
NOT_A_PHOTO_COMMANDS = {
    "zh": "我只能读取照片和文字。请发送证件或车牌的照片，发送 /help 查看说明。",
    "en": "I can only read photos and text. Send a photo of the card or plate, or /help.",
}
FAILED = {
    "zh": "处理出错了，请稍后重新发送。",
    "en": "Something went wrong on our side. Please send it again in a moment.",
}
