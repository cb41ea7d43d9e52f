"""Name the mail client, OS and device that a user agent shows, without guessing.

Rules are general shapes with public sources (docs/judging.md lists each): a mail product's
own token, the shapes mail apps share (a product token after Gecko's or WebKit's part, beside
Electron's, before CFNetwork's, or alone), then the bot shapes of `bots`, then user-agents'
browsers. Results are memoised per user agent (bounded), so a user agent seen before costs a
dictionary look-up; one never seen costs one search for every text those rules need (`_SCREEN`:
most browsers' user agents have none, and skip them), token checks where it finds some, and
user-agents' reading (`agents`: ua-parser on its Rust engine) only when the platform is needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

from app.rules.agents import parse, read_device, read_platform
from app.rules.bots import (
    BOT_PRODUCTS,
    bot_evidence,
    desktop_tail,
    evidence_texts,
    text_screen,
    tokens,
    weak_bot_shape,
    words,
)

GMAIL_PREFETCH_SUFFIX = "Edge/12.246 Mozilla/5.0"
APPLE_MPP_USER_AGENT = "Mozilla/5.0"
# How many distinct user agents' answers are kept (about 20 MB of typical ones, more than the
# distinct user agents a campaign's opens bring in an hour), and the longest user agent kept:
# the spool cuts user agents at 1,024 characters, so only hostile input is longer.
MEMO_SIZE = 32_768
MEMO_MAX_LENGTH = 1_024

# Mail providers' image proxies, which fetch when a person views the message (research §2):
# (the proxy's own token, kind, name). HEY's starts its user agent, in any case.
PROXY_RULES: tuple[tuple[str, str, str], ...] = (
    ("GoogleImageProxy", "gmail_proxy", "Gmail"),
    ("YahooMailProxy", "yahoo_proxy", "Yahoo Mail"),
    ("FastmailUA", "fastmail_proxy", "Fastmail"),
)
# Other mail services' and apps' own image proxies, which fetch when a person views the
# message: a mail word and a proxy word in one user agent (RamblerMail's ImageProxy,
# SeznamEmailProxy, "mail.ukr.net proxy" in device-detector's bots.yml), or a mail app's
# "<App> image proxy" (Superhuman's, for one). A proxy checker is a bot, not a mail reader.
MAIL_PROXY = re.compile(
    r"\b([\w.]*?e?mail[\w.]*)"
    r"(?:Proxy\b|[/\d. ]*\((?:in)?compatible; ImageProxy|[ \w.-]{0,20} proxy\))",
    re.IGNORECASE,
)
MAIL_APP_PROXY = re.compile(
    r"\b(Superhuman|Proton ?Mail|Tuta(?:nota)?|Zoho ?Mail|Spark|Newton|Edison|Canary|"
    r"Mailspring|Front|Missive|Shortwave|Spike|Hiver|Mimestream)\b[\w ./-]{0,20}?"
    r"[ -]?(?:image[ -]?proxy|img-?proxy)",
    re.IGNORECASE,
)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_SQUASH = re.compile(r"[^A-Za-z0-9]")
_LEAD = re.compile(r"[/(;]")


# Mail-security scanners that name themselves (research §3), lower case.
SCANNER_TOKENS = (("barracuda sentinel", "Barracuda Sentinel"), ("google-safety", "Google-Safety"))

V = r"(\d+(?:\.\d+)*)"
# A mail product's own token: (gates, pattern, name, os or None, device or None). The gates
# are the lower-case tokens (as `bots.tokens` cuts them) the pattern cannot match without, so
# a user agent is searched only by the few rules whose product it mentions. Sources:
# device-detector's regexes/client/pim.yml, uap-core's regexes.yaml, ua-parser-js's Emails
# extension, browscap's Email Clients, vendors' pages (docs/judging.md).
# Case-insensitive, as device-detector matches them: foxmail/, KMail/ and kontact/ are seen.
CLIENT_RULES: tuple[tuple[tuple[str, ...], re.Pattern[str], str, str | None, str | None], ...] = (
    tuple(
        (gates, re.compile(pattern, re.IGNORECASE), client, os, device)
        for gates, pattern, client, os, device in (
            (("outlook-ios",), rf"^Outlook-iOS/\S+ \({V}\)", "Outlook for iOS", "iOS", None),
            (("outlook-ios",), r"^Outlook-iOS/", "Outlook for iOS", "iOS", None),
            (
                ("outlook-android",),
                rf"\bOutlook-Android/{V}",
                "Outlook for Android",
                "Android",
                None,
            ),
            (("macoutlook",), rf"^MacOutlook/{V}", "Outlook for Mac", "macOS", "desktop"),
            (
                ("outlook",),
                rf"^Outlook/{V} CFNetwork/\S+ Darwin/\S+ \((?:x86_64|arm64)\)",
                "Outlook for Mac",
                "macOS",
                "desktop",
            ),
            (
                ("oneoutlook",),
                rf"\bOneOutlook(?:/{V})?",
                "New Outlook for Windows",
                "Windows",
                "desktop",
            ),
            (
                ("outlook",),
                rf"^Microsoft (?:Office )?Outlook/{V} \(Mac OS",
                "Outlook for Mac",
                "macOS",
                "desktop",
            ),
            (
                ("outlook",),
                rf"Microsoft (?:Office )?Outlook(?: Mail)? {V}",
                "Outlook for Windows",
                "Windows",
                "desktop",
            ),
            (("msoffice",), rf"\bMSOffice {V}", "Outlook for Windows", "Windows", "desktop"),
            (("ms-office",), r"\bms-office\b", "Outlook for Windows", "Windows", "desktop"),
            (
                ("outlook-express",),
                rf"Outlook-Express/{V}",
                "Windows Live Mail",
                "Windows",
                "desktop",
            ),
            (("windowsmail",), rf"^WindowsMail/{V}", "Windows Mail", "Windows", "desktop"),
            (("thunderbird",), rf"\bThunderbird(?:/{V})?\b", "Thunderbird", None, None),
            (("icedove",), rf"\bIcedove(?:/{V})?", "Thunderbird", None, None),
            (("shredder",), rf"\bShredder/{V}", "Thunderbird", None, None),
            (("spicebird",), rf"\bSpicebird/{V}", "Spicebird", None, None),
            (("airmail",), rf"\bAirmail(?:[ /]{V})?", "Airmail", None, None),
            (("mailspring",), rf"\bMailspring/{V}", "Mailspring", None, None),
            (("mailbird",), rf"\bMailbird/{V}", "Mailbird", None, None),
            (("client", "emclient"), rf"\beM ?Client/{V}", "eM Client", None, "desktop"),
            (("barca", "barcapro"), rf"^Barca(?:Pro)?[/ ]{V}", "Barca", "Windows", "desktop"),
            (("mailbar",), rf"^MailBar/{V}", "MailBar", "macOS", "desktop"),
            (("seamonkey",), rf"\bSeaMonkey/{V}", "SeaMonkey", None, None),
            (("iceape",), rf"\bIceape/{V}", "SeaMonkey", None, None),
            (("bluemail",), rf"\bBlueMail/{V}", "BlueMail", None, None),
            (("postbox",), rf"\bPostbox[/ ]{V}", "Postbox", None, "desktop"),
            (
                ("notes", "lotus-notes"),
                rf"\bLotus-Notes/{V}",
                "HCL Notes",
                None,
                "desktop",
            ),
            (("bat",), rf"^The Bat! (?:Voyager )?{V}", "The Bat!", "Windows", "desktop"),
            (("kmail", "kmail2"), rf"\bkmail2?(?:/{V})?", "KMail", None, None),
            (("kontact",), rf"\bKontact(?:/{V})?", "Kontact", None, None),
            (("evolution",), rf"^Evolution(?:/{V})?", "Evolution", "Linux", "desktop"),
            (("polymail",), rf"\bPolymail(?:/{V})?", "Polymail", None, None),
            (("sparkdesktop",), rf"\bSparkDesktop(?:/{V})?", "Spark", None, "desktop"),
            (("sparrow",), rf"\bSparrow(?:/{V})?", "Sparrow", None, None),
            (("superhuman",), rf"^Superhuman\b(?:/{V})?", "Superhuman", None, None),
            (("protonmail", "proton"), rf"\bProton ?Mail(?:[/ ]{V})?", "Proton Mail", None, None),
            (
                ("zohomail", "zohomail-desktop"),
                rf"\bZohoMail(?:-Desktop)?(?:/{V})?",
                "Zoho Mail",
                None,
                None,
            ),
            (("zdesktop",), rf"\bzdesktop/{V}", "Zimbra Desktop", None, "desktop"),
            (
                ("zimbra", "zimbradesktop"),
                rf"\bZimbra ?Desktop(?:/{V})?",
                "Zimbra Desktop",
                None,
                "desktop",
            ),
            (("foxmail",), rf"\bFoxmail/{V}", "Foxmail", None, None),
            (("daummail", "daummailapp"), rf"\bDaumMail(?:App)?/{V}", "Daum Mail", None, None),
            (("navermail", "navermailapp"), rf"\bNaverMail(?:App)?/{V}", "NAVER Mail", None, None),
            (
                ("mailmaster", "mailmasterpc", "mailmaster_android_mobile"),
                rf"\bMailMaster\w*/{V}",
                "NetEase Mail Master",
                None,
                None,
            ),
            (
                ("jp.co.yahoo.ymail", "jp.co.yahoo.android.ymail"),
                rf"\bjp\.co\.yahoo\.(?:android\.)?ymail/{V}",
                "Yahoo! JAPAN Mail",
                None,
                None,
            ),
            (
                ("yahoomobilemail",),
                rf"^YahooMobileMail/[\d.]+ \(Android Mail; {V}\)",
                "Yahoo Mail",
                "Android",
                None,
            ),
            (("yahoomobilemail",), r"^YahooMobileMail/", "Yahoo Mail", None, None),
            # ua-parser-js's Emails extension: `YahooMobile/1.0 (mail; 3.0.5.1311380)`.
            (("yahoomobile",), rf"^YahooMobile/[\d.]+ \(mail; {V}\)", "Yahoo Mail", None, None),
            (("yahoo",), rf"^Yahoo%20Mail/{V} CFNetwork/", "Yahoo Mail", "iOS", None),
            (("android-gmail",), rf"^Android-Gmail/{V}", "Gmail", "Android", None),
            (("mailapp",), rf"\bmailapp/{V}", "MailApp", None, None),
            (("worxmail",), rf"\bWorxMail/{V}", "Citrix Secure Mail", None, None),
            (
                ("blackberry-workconnect",),
                rf"BLACKBERRY-WorkConnect/{V}",
                "BlackBerry Work",
                None,
                None,
            ),
            (("davdroid",), rf"\bDAVdroid/{V}", "DAVx5", "Android", None),
            (("davx5",), rf"\bDAVx5/{V}", "DAVx5", "Android", None),
            (
                ("exchangewebservices",),
                rf"\bExchangeWebServices/[\d.]+ \(\d+\); Mail/{V}",
                "Apple Mail",
                "macOS",
                "desktop",
            ),
            (("mail",), rf"^Mail/{V} CFNetwork/", "Apple Mail", None, None),
            # Apple Mail renders with WebKit and sends no Safari/ or Version/ token (macOS), and on
            # iOS and iPadOS no Safari/ or Version/ token either, older releases not even Mobile/.
            (
                ("macintosh",),
                r"^Mozilla/5\.0 \(Macintosh; [^)]*\) AppleWebKit/[\d.+]+ \(KHTML, like Gecko\)$",
                "Apple Mail",
                "macOS",
                "desktop",
            ),
            (
                ("iphone", "ipad", "ipod"),
                r"^Mozilla/5\.0 \((?:iPhone|iPad|iPod)[^)]*\) AppleWebKit/[\d.+]+ "
                r"\(KHTML, like Gecko\)(?: Mobile/\w+)?$",
                "Apple Mail",
                "iOS",
                None,
            ),
        )
    )
)

# Product tokens that browsers, engines and libraries put where a mail app puts its own.
NOT_APP_TOKENS = words(
    """
    Mozilla AppleWebKit KHTML Gecko like Version Safari Mobile Chrome Chromium CriOS FxiOS
    Firefox Fennec Iceweasel IceCat PaleMoon Pale Waterfox Camino Epiphany Galeon Flock
    Navigator Netscape Netscape6 K-Meleon Minefield Namoroka Shiretoko GranParadiso BonEcho
    Conkeror Kazehakase Basilisk Iceape SeaMonkey Lightning Electron Edg Edge EdgA EdgiOS OPR
    Opera Vivaldi YaBrowser SamsungBrowser UCBrowser Brave DuckDuckGo GSA Ubuntu Fedora
    Debian Linux rv Mobi Darwin CFNetwork Dalvik okhttp Java Trident MSIE Silk Puffin
    Focus Klar Orion Arc Quark Whale Maxthon QQBrowser MQQBrowser baiduboxapp SogouMobileBrowser
    Yandex Sleipnir Lunascape Midori Otter Falkon QupZilla Konqueror NetSurf Dillo Links Lynx
    w3m Arora Rekonq Iron Comodo Dragon Coast Mercury Tenta Kiwi Ecosia Phoenix Stainless
    OmniWeb iCab Shiira Fluid Roccat Cheshire Rockmelt Beaker Min Colibri Surf uzbl
    """
)
# `Gecko(?<!\wGecko)` is `\bGecko` with the literal first, so that the engine looks for "Gecko"
# at once instead of trying the pattern at every position (four times faster, same matches).
_GECKO_APP = re.compile(
    r"Gecko(?<!\wGecko)(?:/[\d.]+)?\)?\s+(?:Firefox/[\w.]+\s+)?([A-Za-z][\w.-]*)(?:/(\d[\w.]*))?"
)
_MAC_WEBKIT_APP = re.compile(
    r"^Mozilla/5\.0 \(Macintosh;[^)]*\) AppleWebKit/[\d.+]+ \(KHTML, like Gecko\) "
    r"([A-Za-z][\w.-]*)(?:/(\d[\w.]*))?"
)
_IOS_WEBKIT_APP = re.compile(
    r"^Mozilla/5\.0 \((?:iPhone|iPad|iPod)[^)]*\) AppleWebKit/[\d.+]+ \(KHTML, like Gecko\)"
    r"(?: Mobile/\w+)? ([A-Za-z][\w.-]*)(?:/(\d[\w.]*))?"
)
# Token -> the indexes of the rules it gates, in rule order.
RULES_BY_TOKEN: dict[str, tuple[int, ...]] = {}
for _index, (_gates, *_rest) in enumerate(CLIENT_RULES):
    for _gate in _gates:
        RULES_BY_TOKEN[_gate] = (*RULES_BY_TOKEN.get(_gate, ()), _index)
_GATES = frozenset(RULES_BY_TOKEN)
# Apple Mail's gates (its rules are anchored shapes), in nearly every Apple browser's user
# agent too: looked for by themselves, so that the screen below stays quiet on those.
_APPLE_GATES = ("macintosh", "iphone", "ipad", "ipod")
# One search for the texts that `_special`, the other gates, `outlook-ios-android` and
# `bot_evidence` look for (`evidence_texts`), every place each is found (overlapping). Where it
# finds none (most browsers' user agents), none of them is asked, its words are not cut, and
# of the bot evidence only the desktop tail is asked; where it finds none of `_special`'s
# (nearly every bot's), `_special` is not asked; where none of the gates' or the products',
# the words are not cut (a word is a piece of the text). tests/rules/test_rule_speedups.py
# compares the answers without it.
_SPECIAL_TEXTS = frozenset(
    {
        GMAIL_PREFETCH_SUFFIX.lower(),
        *(token.lower() for token, _kind, _name in PROXY_RULES),
        "proxy",
        *(token for token, _name in SCANNER_TOKENS),
    }
)
_WORD_TEXTS = frozenset({*_GATES, "outlook-ios-android", *BOT_PRODUCTS}) - set(_APPLE_GATES)
_SCREEN = text_screen(evidence_texts(*_SPECIAL_TEXTS, *_WORD_TEXTS), found_texts=True)

_PRODUCTS = re.compile(r"(?:^|\s)([A-Za-z][\w.-]*)/(\d[\w.]*)")
_CFNETWORK_APP = re.compile(r"^([^/\s]+)/(\d[\w.]*) CFNetwork/")
_PLATFORM_APP = re.compile(
    r"^([A-Za-z][\w.-]*)/(\d[\w.-]*) \((?:Linux; )?(?:U; )?(?:Android|iOS|iPhone|iPad|"
    r"Windows|Macintosh|Mac OS X|X11)"
)

# X-Requested-With names the Android app whose WebView fetched the pixel.
ANDROID_APPS = {
    "com.samsung.android.email.provider": "Samsung Email",
    "com.microsoft.office.outlook": "Outlook for Android",
    "com.google.android.gm": "Gmail",
    "com.google.android.gm.lite": "Gmail",
    "com.yahoo.mobile.client.android.mail": "Yahoo Mail",
    "com.aol.mobile.aolapp": "AOL Mail",
    "ch.protonmail.android": "Proton Mail",
    "com.fastmail.app": "Fastmail",
    "com.readdle.spark": "Spark",
    "me.bluemail.mail": "BlueMail",
    "com.fsck.k9": "K-9 Mail",
    "net.thunderbird.android": "Thunderbird",
    "com.easilydo.mail": "Edison Mail",
    "com.android.email": "Android Email",
    "de.gmx.mobile.android.mail": "GMX Mail",
    "de.web.mobile.android.mail": "WEB.DE Mail",
    "de.telekom.mail": "Telekom Mail",
    "it.italiaonline.mail": "Libero Mail",
    "com.myhomescreen.email": "Email (myhomescreen)",
    "ru.mail.mailapp": "Mail.ru",
    "ru.yandex.mail": "Yandex Mail",
    "com.netease.mail": "NetEase Mail Master",
    "com.tencent.androidqqmail": "QQ Mail",
    "com.zoho.mail": "Zoho Mail",
}

BROWSERS = {
    "Chrome": "Chrome",
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Chrome WebView",
    "Chromium": "Chromium",
    "Firefox": "Firefox",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Safari": "Safari",
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari WebView",
    "Edge": "Edge",
    "Edge Mobile": "Edge",
    "IE": "Internet Explorer",
    "IE Mobile": "Internet Explorer",
    "Opera": "Opera",
    "Opera Mobile": "Opera",
    "Samsung Internet": "Samsung Internet",
    "Yandex Browser": "Yandex Browser",
    "Brave": "Brave",
    "Vivaldi": "Vivaldi",
    "DuckDuckGo Mobile": "DuckDuckGo",
}
WEBVIEWS = frozenset({"Chrome Mobile WebView", "Mobile Safari UI/WKWebView"})


@dataclass(frozen=True, init=False)
class Client:
    """What one user agent string says about the software that sent it."""

    name: str = "unknown"
    version: str | None = None
    os: str = "unknown"
    device: str = "unknown"
    # kind: client, browser, webview, unknown, apple_mpp, gmail_prefetch, a *_proxy,
    # mail_proxy, scanner or bot
    kind: str = "unknown"
    # For a bot: the shape or token that showed it.
    evidence: str | None = None

    def __init__(
        self,
        name: str = "unknown",
        version: str | None = None,
        os: str = "unknown",
        device: str = "unknown",
        kind: str = "unknown",
        evidence: str | None = None,
    ) -> None:
        # Speed only: a frozen dataclass's own __init__ sets each field through
        # object.__setattr__, three times slower than filling __dict__ (still frozen).
        values = self.__dict__
        values["name"] = name
        values["version"] = version
        values["os"] = os
        values["device"] = device
        values["kind"] = kind
        values["evidence"] = evidence


def _app_name(token: str) -> str:
    return unquote(token).replace("_", " ").strip()


def _may_be_app(token: str) -> bool:
    """Return whether a token in an app's place may name a mail app: not a browser's own, and
    not a known tool's or library's (jsdom puts `jsdom/<version>` where a Gecko app's name goes,
    as its README documents; headless browsers do the same)."""
    return token not in NOT_APP_TOKENS and token.lower() not in BOT_PRODUCTS


def _app_token(ua: str) -> tuple[str, str | None] | None:
    """Return (name, version) of a mail app's own token in a shared shape, or None."""
    if "Electron/" in ua:
        for name, version in _PRODUCTS.findall(ua):
            if _may_be_app(name):
                return _app_name(name), version
        return None
    if "CFNetwork/" in ua:
        shape = _CFNETWORK_APP
    elif ua.startswith("Mozilla/5.0 (Macintosh"):
        shape = _MAC_WEBKIT_APP
    elif ua.startswith("Mozilla/5.0 (i"):
        shape = _IOS_WEBKIT_APP
    elif not ua.startswith("Mozilla/"):
        shape = _PLATFORM_APP
    else:
        shape = None
    found = shape.match(ua) if shape is not None else None
    if found and _may_be_app(found.group(1)):
        return _app_name(found.group(1)), found.group(2)
    gecko = ua.find("Gecko")
    if gecko >= 0 and ua.find("Firefox/", 0, gecko) < 0:  # no Firefox/ before Gecko
        found = _GECKO_APP.search(ua)
        if found and _may_be_app(found.group(1)):
            return _app_name(found.group(1)), found.group(2)
    return None


def _names_browser(ua: str, family: str) -> bool:
    """Return whether uap-core's rules name a browser for ua (asked for weak bot shapes only).

    Not when they name none, when they only echo the user agent's own leading token back
    (their catch-all rules do: `WhatWeb/0.5.5` is family WhatWeb, `GoogleOther-Image/1.0`
    GoogleOther) and it is no browser's own token (`NOT_APP_TOKENS`: `Dillo/0.8.5` is Dillo),
    or when their device rules call it a `Spider` (uap-core's own bot list).
    """
    if family == "Other":
        return False
    lead = _LEAD.split(ua, 1)[0].strip()
    squashed, named = _SQUASH.sub("", lead).lower(), _SQUASH.sub("", family).lower()
    if lead not in NOT_APP_TOKENS and (squashed.startswith(named) or named.startswith(squashed)):
        return False
    return parse(ua).device.family != "Spider"


def _special(ua: str, lower: str) -> Client | None:
    """Return the prefetcher, mail proxy or scanner that a user agent names, or None."""
    if ua.endswith(GMAIL_PREFETCH_SUFFIX):
        return Client("Gmail", kind="gmail_prefetch")
    for token, kind, name in PROXY_RULES:
        if token in ua:
            return Client(name, kind=kind)
    if lower.startswith("hey.com/imageproxy"):
        return Client("HEY", kind="hey_proxy")
    if "proxy" in lower and "checker" not in lower:
        proxy = MAIL_APP_PROXY.search(ua) or MAIL_PROXY.search(ua)
        if proxy:
            name = _CAMEL.sub(" ", _app_name(proxy.group(1))).replace("Email", "E-mail")
            return Client(name.replace("mail.", "").strip(". ") or "unknown", kind="mail_proxy")
    for token, name in SCANNER_TOKENS:
        if token in lower:
            return Client(name, kind="scanner")
    return None


def identify(user_agent: str) -> Client:
    """Return the client, version, OS, device and fetcher kind a user agent shows."""
    if len(user_agent) <= MEMO_MAX_LENGTH:
        return _memo(user_agent)
    return _read(user_agent)


def _read(user_agent: str) -> Client:
    ua = user_agent.strip()
    if ua == APPLE_MPP_USER_AGENT:
        return Client("Apple Mail", kind="apple_mpp")
    if not ua:
        return Client(kind="unknown")
    lower = ua.lower()
    found = _SCREEN(lower, overlapping=True) if _SCREEN is not None else None
    plain = found is not None and not found
    if found is None or not _SPECIAL_TEXTS.isdisjoint(found):
        special = _special(ua, lower)
        if special is not None:
            return special
    # Apple Mail's rules are gated by Apple's platform words, which the screen leaves out.
    worded = found is None or not _WORD_TEXTS.isdisjoint(found)
    apple = "macintosh" in lower or "iphone" in lower or "ipad" in lower or "ipod" in lower
    words = tokens(lower) if worded or apple else []
    # Most user agents name no mail product: one C-level pass over the words tells.
    candidates = (
        ()
        if _GATES.isdisjoint(words)
        else sorted({i for word in words for i in RULES_BY_TOKEN.get(word, ())})
    )
    for index in candidates:
        _, pattern, name, rule_os, rule_device = CLIENT_RULES[index]
        found = pattern.search(ua)
        if found is None:
            continue
        version = next((group for group in found.groups() if group), None)
        os, device = rule_os, rule_device
        if os is None or device is None:
            read_os, read_type = read_device(ua)
            os, device = os or read_os, device or read_type
        if name in ("Outlook for iOS", "Apple Mail") and os == "iOS" and rule_device is None:
            device = "tablet" if "ipad" in lower else "phone"
        return Client(name, version, os, device, "client")
    if "outlook-ios-android" in words:
        os, device = read_device(ua)
        if os in ("iOS", "Android"):
            return Client(f"Outlook for {os}", None, os, device, "client")
    if plain:
        tail = desktop_tail(ua)
        bot = (tail, None) if tail else None
    else:
        bot = bot_evidence(ua, lower, words)
    if bot:
        return Client(bot[1] or "unknown", kind="bot", evidence=bot[0])
    app = _app_token(ua)
    if app is not None:
        os, device = read_device(ua)
        return Client(app[0], app[1], os, device, "client")
    platform = read_platform(ua)
    evidence = weak_bot_shape(ua)
    # A shape no browser sends, unless uap-core's rules name the browser that sends it.
    if evidence and not _names_browser(ua, platform.browser):
        return Client(kind="bot", evidence=evidence)
    os, device = platform.os, platform.device
    if "; wv)" in ua or platform.browser in WEBVIEWS:
        return Client("unknown", None, os, device, "webview")
    browser = BROWSERS.get(platform.browser)
    if browser is not None:
        return Client(browser, platform.browser_version, os, device, "browser")
    if platform.browser != "Other" and ua.startswith("Mozilla/"):
        return Client(platform.browser, platform.browser_version, os, device, "browser")
    return Client("unknown", None, os, device, "unknown")


_memo = lru_cache(maxsize=MEMO_SIZE)(_read)
identify.cache_clear = _memo.cache_clear  # type: ignore[attr-defined]
identify.cache_info = _memo.cache_info  # type: ignore[attr-defined]


def android_app(x_requested_with: str | None) -> str | None:
    """Return the mail client an X-Requested-With package id names, or None."""
    if not x_requested_with:
        return None
    return ANDROID_APPS.get(x_requested_with.strip().lower())
