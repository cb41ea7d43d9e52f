"""Name the mail client, OS and device that a user agent shows, without guessing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import user_agents

GMAIL_PREFETCH_SUFFIX = "Edge/12.246 Mozilla/5.0"
APPLE_MPP_USER_AGENT = "Mozilla/5.0"

# What kind of fetcher a user agent names, checked in this order by `identify`.
PROXY_RULES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"GoogleImageProxy"), "gmail_proxy", "Gmail"),
    (re.compile(r"YahooMailProxy"), "yahoo_proxy", "Yahoo Mail"),
    (re.compile(r"FastmailUA"), "fastmail_proxy", "Fastmail"),
    (re.compile(r"^hey\.com/imageproxy", re.IGNORECASE), "hey_proxy", "HEY"),
)
SCANNER_UA = re.compile(r"Barracuda Sentinel|Google-Safety", re.IGNORECASE)
BOT_UA = re.compile(
    r"MicrosoftPreview|BingPreview|SkypeUriPreview|Slackbot|Slack-ImgProxy|"
    r"facebookexternalhit|Facebot|Twitterbot|LinkedInBot|WhatsApp|TelegramBot|Discordbot|"
    r"redditbot|Pinterest|Applebot|Googlebot|bingbot|YandexBot|YandexImageResizer|"
    r"Baiduspider|DuckDuckBot|Iframely|Embedly|Google-PageRenderer|Google-InspectionTool|"
    r"Chrome-Lighthouse|AdsBot|Mediapartners|Mastodon|Bluesky|Cardyb|PetalBot|SemrushBot|"
    r"AhrefsBot|MJ12bot|DotBot|ia_archiver|archive\.org_bot|HeadlessChrome|PhantomJS|"
    r"python-requests|python-urllib|python-httpx|aiohttp|curl/|Wget/|Go-http-client|okhttp|"
    r"^Java/|Apache-HttpClient|node-fetch|axios/|Scrapy|libwww-perl|"
    r"Arachni|Datadog|ApacheBench|check_http|bot\b|crawler|spider",
    re.IGNORECASE,
)
# A user agent naming mail software is never handed to the generic crawler list, which
# calls Outlook, Apple Mail and Airmail crawlers.
MAILISH = re.compile(r"mail|outlook|office|thunderbird|notes", re.IGNORECASE)

V = r"(\d+(?:\.\d+)*)"
# (pattern, client, os or None to ask user-agents, device or None to ask user-agents)
CLIENT_RULES: tuple[tuple[re.Pattern[str], str, str | None, str | None], ...] = tuple(
    (re.compile(pattern), client, os, device)
    for pattern, client, os, device in (
        (rf"^Outlook-iOS/\S+ \({V}\)", "Outlook for iOS", "iOS", None),
        (r"^Outlook-iOS/", "Outlook for iOS", "iOS", None),
        (rf"^MacOutlook/{V}", "Outlook for Mac", "macOS", "desktop"),
        (
            rf"^Outlook/{V} CFNetwork/\S+ Darwin/\S+ \((?:x86_64|arm64)\)",
            "Outlook for Mac",
            "macOS",
            "desktop",
        ),
        (
            rf"Microsoft (?:Office )?Outlook(?: Mail)? {V}",
            "Outlook for Windows",
            "Windows",
            "desktop",
        ),
        (rf"\bMSOffice {V}", "Outlook for Windows", "Windows", "desktop"),
        (r"\bms-office\b", "Outlook for Windows", "Windows", "desktop"),
        (rf"^Outlook-Express/{V}", "Windows Live Mail", "Windows", "desktop"),
        (rf"^WindowsMail/{V}", "Windows Mail", "Windows", "desktop"),
        (rf"\b(?:Thunderbird|Icedove)/{V}", "Thunderbird", None, None),
        (rf"^Airmail {V}", "Airmail", None, None),
        (rf"\bMailspring/{V}", "Mailspring", None, None),
        (rf"\bMailbird/{V}", "Mailbird", None, None),
        (rf"\beM ?Client/{V}", "eM Client", None, "desktop"),
        (rf"^Barca(?:Pro)?/{V}", "Barca", "Windows", "desktop"),
        (rf"^MailBar/{V}", "MailBar", "macOS", "desktop"),
        (rf"\b(?:SeaMonkey|Iceape)/{V}", "SeaMonkey", None, None),
        (rf"\bBlueMail/{V}", "BlueMail", None, None),
        (rf"\bPostbox[/ ]{V}", "Postbox", None, "desktop"),
        (rf"\bLotus-Notes/{V}", "Lotus Notes", None, "desktop"),
        (rf"^The Bat! (?:Voyager )?{V}", "The Bat!", "Windows", "desktop"),
        (rf"\bkmail2?/{V}", "KMail", None, None),
        (r"^Superhuman\b", "Superhuman", None, None),
        (rf"\bFoxmail/{V}", "Foxmail", None, None),
        (rf"^NaverMailApp/{V}", "NAVER Mail", None, None),
        (rf"\bMailMaster\w*/{V}", "NetEase Mail Master", None, None),
        (rf"\bjp\.co\.yahoo\.ymail/{V}", "Yahoo! JAPAN Mail", None, None),
        (rf"^YahooMobileMail/[\d.]+ \(Android Mail; {V}\)", "Yahoo Mail", "Android", None),
        (r"^YahooMobileMail/", "Yahoo Mail", None, None),
        (rf"^Yahoo%20Mail/{V} CFNetwork/", "Yahoo Mail", "iOS", None),
        (rf"^Android-Gmail/{V}", "Gmail", "Android", None),
        (rf"\bmailapp/{V}", "MailApp", None, None),
        (rf"\bExchangeWebServices/[\d.]+ \(\d+\); Mail/{V}", "Apple Mail", "macOS", "desktop"),
        (rf"^Mail/{V} CFNetwork/", "Apple Mail", None, None),
        # Apple Mail renders with WebKit and sends no Safari/ or Version/ token.
        (
            r"^Mozilla/5\.0 \(Macintosh; [^)]*\) AppleWebKit/[\d.+]+ \(KHTML, like Gecko\)$",
            "Apple Mail",
            "macOS",
            "desktop",
        ),
        (
            r"^Mozilla/5\.0 \((?:iPhone|iPad|iPod)[^)]*\) AppleWebKit/[\d.+]+ "
            r"\(KHTML, like Gecko\) Mobile/\w+$",
            "Apple Mail",
            "iOS",
            None,
        ),
    )
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
    "Chromium": "Chromium",
    "Firefox": "Firefox",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Safari": "Safari",
    "Mobile Safari": "Safari",
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

OS_NAMES = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS", "Other": "unknown"}
LINUXES = {
    "Linux",
    "Ubuntu",
    "Debian",
    "Fedora",
    "Red Hat",
    "SUSE",
    "openSUSE",
    "Arch Linux",
    "Gentoo",
}
# Generic words that say "a bot" without naming which one.
GENERIC_BOT_WORDS = {"bot", "crawler", "spider"}


@dataclass(frozen=True)
class Client:
    """What one user agent string says about the software that sent it."""

    name: str = "unknown"
    version: str | None = None
    os: str = "unknown"
    device: str = "unknown"
    # kind: client, browser, webview, unknown, apple_mpp, gmail_prefetch, a *_proxy,
    # scanner or bot
    kind: str = "unknown"


def _os_and_device(ua: str, parsed: user_agents.parsers.UserAgent) -> tuple[str, str]:
    family = parsed.os.family
    if "CFNetwork/" in ua and not re.search(r"\((?:x86_64|arm64|i386)\)", ua):
        # Darwin versions are shared by iOS and macOS; ua-parser's iOS answer is a guess.
        return "unknown", "unknown"
    if family in LINUXES:
        os = "Linux"
    elif family.startswith("Windows") and not family.startswith("Windows Phone"):
        os = "Windows"
    else:
        os = OS_NAMES.get(family, family)
    if family == "Android" and not ua.startswith("Mozilla/"):
        # Without a browser shape, ua-parser calls every Android device a tablet.
        device = "unknown"
    elif parsed.is_tablet:
        device = "tablet"
    elif parsed.is_mobile:
        device = "phone"
    elif parsed.is_pc or "X11;" in ua:
        device = "desktop"
    else:
        device = "unknown"
    return os, device


@lru_cache(maxsize=1)
def _crawler_detect():  # noqa: ANN202 - crawlerdetect is optional
    try:
        from crawlerdetect import CrawlerDetect
    except ImportError:
        return None
    return CrawlerDetect()


def _is_listed_crawler(user_agent: str) -> bool:
    detector = _crawler_detect()
    return detector is not None and detector.isCrawler(user_agent)


@lru_cache(maxsize=4096)
def identify(user_agent: str) -> Client:
    """Return the client, version, OS, device and fetcher kind a user agent shows."""
    ua = user_agent.strip()
    if ua == APPLE_MPP_USER_AGENT:
        return Client("Apple Mail", kind="apple_mpp")
    if ua.endswith(GMAIL_PREFETCH_SUFFIX):
        return Client("Gmail", kind="gmail_prefetch")
    for pattern, kind, name in PROXY_RULES:
        if pattern.search(ua):
            return Client(name, kind=kind)
    if not ua:
        return Client(kind="unknown")
    scanner = SCANNER_UA.search(ua)
    if scanner:
        return Client(scanner.group(0), kind="scanner")
    parsed = user_agents.parse(ua)
    os, device = _os_and_device(ua, parsed)
    for pattern, name, rule_os, rule_device in CLIENT_RULES:
        found = pattern.search(ua)
        if found is None:
            continue
        version = next((group for group in found.groups() if group), None)
        if name == "Outlook for iOS":
            device = "tablet" if "ipad" in ua.lower() else "phone"
        return Client(name, version, rule_os or os, rule_device or device, "client")
    if "Outlook-iOS-Android" in ua and os in ("iOS", "Android"):
        return Client(f"Outlook for {os}", None, os, device, "client")
    bot = BOT_UA.search(ua)
    if bot or parsed.is_bot or (not MAILISH.search(ua) and _is_listed_crawler(ua)):
        name = bot.group(0) if bot and bot.group(0).lower() not in GENERIC_BOT_WORDS else None
        return Client(name or "unknown", kind="bot")
    browser = BROWSERS.get(parsed.browser.family)
    if browser is not None:
        version = parsed.browser.version_string or None
        return Client(browser, version, os, device, "browser")
    if "; wv)" in ua or "WebView" in parsed.browser.family:
        return Client("unknown", None, os, device, "webview")
    return Client("unknown", None, os, device, "unknown")


def android_app(x_requested_with: str | None) -> str | None:
    """Return the mail client an X-Requested-With package id names, or None."""
    if not x_requested_with:
        return None
    return ANDROID_APPS.get(x_requested_with.strip().lower())
