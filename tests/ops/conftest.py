"""Clear-cut reviews for the op tests (the real ones, `reviews`, are in tests/conftest.py)."""

from __future__ import annotations

import pandas as pd
import pytest

_POSITIVE = [
    "I love this tea. It is delicious and wonderful, the best I have ever had!",
    "Excellent coffee, great taste, my whole family loves it. Highly recommended!",
]
_NEGATIVE = [
    "Terrible. It tasted awful and stale, I hate it. A total waste of money.",
    "Disgusting product, it arrived rotten and made me sick. Never again.",
]


@pytest.fixture(scope="session")
def clear_reviews() -> pd.Series:
    """Two clearly positive then two clearly negative reviews."""
    return pd.Series(_POSITIVE + _NEGATIVE, index=[9, 7, 5, 3], name="review")


# Chinese product reviews and IT tickets in German with their English translations, as users
# wrote them to us (issue 31): for words and stop words per language.
_CHINESE_REVIEWS = [
    "包装破损，茶叶受潮发霉了，客服也不回复，非常失望",
    "物流很快，味道不错，性价比高，会回购的",
    "这款绿茶香气清新，口感回甘，冲泡了三次还有味道",
    "快递太慢了，等了一个星期才到，盒子也压坏了",
    "咖啡豆新鲜，烘焙程度刚好，酸味和苦味都很平衡",
    "收到的茶叶有一股霉味，申请退货三天了还没有人处理",
    "红茶汤色红亮，味道醇厚，送给长辈很有面子",
    "客服态度很差，问了好几次发货时间都不回答",
]
_GERMAN_TICKETS = [
    "Ich kann mich seit heute Morgen nicht mehr im VPN anmelden, das Passwort wird abgelehnt.",
    "Der Drucker im zweiten Stock druckt nur leere Seiten, obwohl der Toner neu ist.",
    "Mein Laptop startet nicht mehr, der Akku ist leer und das Netzteil lädt nicht.",
    "Outlook stürzt beim Öffnen von Anhängen ab, ich habe das Programm schon neu installiert.",
    "Das WLAN im Besprechungsraum bricht ständig ab, die Videokonferenz hängt dann.",
    "Die VPN-Verbindung bricht alle zehn Minuten ab, ich muss mich dann neu anmelden.",
    "Ich brauche einen neuen Akku für meinen Laptop, der alte hält nur noch eine Stunde.",
    "Seit dem Update lässt sich Outlook nicht mehr öffnen, es kommt eine Fehlermeldung.",
]
_ENGLISH_TICKETS = [
    "I cannot log in to the VPN since this morning, my password is rejected.",
    "The printer on the second floor only prints blank pages although the toner is new.",
    "My laptop does not start any more, the battery is empty and the charger does not charge.",
    "Outlook crashes when I open attachments, I already reinstalled the program.",
    "The Wi-Fi in the meeting room keeps dropping and the video call freezes.",
    "The VPN connection drops every ten minutes and I have to log in again.",
    "I need a new battery for my laptop, the old one only lasts an hour.",
    "Since the update Outlook will not open, it shows an error message.",
]


@pytest.fixture(scope="session")
def chinese_reviews() -> pd.Series:
    """Eight Chinese product reviews (tea, coffee, delivery, service)."""
    return pd.Series(_CHINESE_REVIEWS, name="review")


@pytest.fixture(scope="session")
def german_tickets() -> pd.Series:
    """Eight German IT tickets (VPN, printer, laptop battery, Outlook, Wi-Fi)."""
    return pd.Series(_GERMAN_TICKETS, name="ticket")


@pytest.fixture(scope="session")
def english_tickets() -> pd.Series:
    """The German tickets in English, in the same order."""
    return pd.Series(_ENGLISH_TICKETS, name="ticket")
