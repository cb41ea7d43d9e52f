"""Tell a machine's user agent from a person's client by its shape; pure and fast.

Asked only after every mail-client and mail-proxy rule has missed: generic bot lists call
GoogleImageProxy, Outlook and Apple Mail crawlers. Two kinds of evidence, each with its
source in docs/judging.md:

* strong: a URL or an e-mail address in the user agent, a `(compatible; X)` comment that is
  not old Internet Explorer's, a bot word (bot, crawler, spider, ...) outside the device
  comments, or the product token of a known crawler, previewer, monitor, scanner, headless
  browser or HTTP library;
* weak, asked after the generic mail-app shapes: a lone word, or a bare `name/version` with no
  platform, which no browser or mail client sends.

A browser's or WebView's device comment (`(Linux; Android 13; CUBOT X30)`) is never read
for bot words: a device model is not a bot.
"""

from __future__ import annotations

import re


def words(text: str) -> frozenset[str]:
    """Return the whitespace-separated words of text, as a set."""
    return frozenset(text.split())


# Product tokens of machines, lower case, as the tokenizer below cuts them out. Sources:
# crawler-user-agents (monperrus/crawler-user-agents), device-detector's bots.yml,
# ua-parser-js's crawler, fetcher and CLI extensions, vendors' crawler pages.
BOT_PRODUCTS = words(
    """
    googlebot googleother google-inspectiontool google-pagerenderer google-read-aloud
    google-site-verification google-extended feedfetcher-google mediapartners-google
    adsbot-google apis-google storebot-google google-safety googleproducer
    bingbot bingpreview msnbot adidxbot microsoftpreview skypeuripreview
    slurp yahoocachesystem yandexbot yandeximages yandexmetrika yandexmobilebot
    yandexdirect yandexfavicons yandexwebmaster yandexaccessibilitybot
    baiduspider duckduckbot duckassistbot applebot applebot-extended
    facebookexternalhit facebookcatalog facebot meta-externalagent meta-externalfetcher
    twitterbot linkedinbot slackbot slack-imgproxy slackbot-linkexpanding discordbot
    telegrambot whatsapp viber redditbot pinterestbot embedly iframely
    quora-link-preview bitlybot vkshare kakaotalk-scrap cardyb
    gptbot chatgpt-user oai-searchbot claudebot claude-web anthropic-ai perplexitybot
    perplexity-user ccbot bytespider amazonbot petalbot semrushbot ahrefsbot
    ahrefssiteaudit mj12bot dotbot rogerbot seznambot sogou exabot blexbot
    dataforseobot serpstatbot seokicks screaming linkdexbot megaindex barkrowler
    ia_archiver archive.org_bot heritrix nutch wayback
    pingdom pingdombot uptimerobot statuscake site24x7 freshping checkly
    hetrixtools newrelicpinger datadog zabbix nagios check_http monitoring-plugins
    uptime-kuma better uptime gtmetrix chrome-lighthouse lighthouse pagespeed
    headlesschrome phantomjs slimerjs selenium webdriver puppeteer playwright
    python-requests python-urllib python-httpx python-aiohttp aiohttp httpx urllib3
    pycurl requests curl libcurl wget go-http-client okhttp apache-httpclient
    jakarta commons-httpclient node-fetch axios undici got node node.js superagent needle
    libwww-perl lwp-trivial lwp-useragent php guzzlehttp wordpress ruby faraday
    httparty rest-client typhoeus mechanize http.rb dart reqwest hyper restsharp
    httpie postmanruntime insomnia windowspowershell powershell winhttp
    cpp-httplib lua-resty-http colly scrapy feedparser rss2email
    feedly inoreader newsblur feedbin theoldreader tiny-tiny-rss freshrss
    miniflux feedspot feedburner netnewswire reeder readkit akregator liferea newsfox
    ptst cloudflareobservatory taginspector sparkler
    feedreader feeddemon newsgator flipboardproxy
    nmap nikto sqlmap masscan zgrab nuclei wpscan gobuster dirbuster ffuf censys
    censysinspect shodan netcraft expanse internetmeasurement securitytrails
    qualys nessus openvas acunetix burp zap owasp
    """
)
# Crawlers' own names, which count even inside the platform comment.
NAMED_CRAWLERS = frozenset(
    token
    for token in BOT_PRODUCTS
    if any(part in token for part in ("bot", "google", "spider", "crawl", "preview", "slurp"))
)
# Possessive (`*+`): nothing after a run could take its characters back, so the tokens are
# those of the plain greedy pattern, found without the engine's backtracking bookkeeping.
_TOKENS = re.compile(r"[a-z][a-z0-9]*+(?:[-_.!][a-z][a-z0-9]*+)*+")
# Bot words and machine markers read outside the device comments. Every branch begins with a
# letter, so that the engine skips the positions where none can begin (`c(?<!\wc)li` is
# `\bcli`: twice as fast as a branch that begins with `\b`).
_BOT_WORDS = re.compile(
    r"bot\b|bot[/_;-]|robot|crawl|spider|scrap|slurp|archiv|fetcher|harvest|indexer|"
    r"monitor|uptime|checker|validator|preview|prefetch|headless|scanner|feed|rss|transcoder|"
    r"http[ _-]?client|java-client|trackersdk|library|c(?<!\wc)li\b"
)
# A URL, a domain name or an obfuscated address: `https?:`, `www.`, `[at]` (plain substrings,
# tested first in `_has_url`), or a word ending in a domain name ending (_URL_DOMAIN). Searched
# apart: only whether one is there counts, and most user agents have no dot followed by a domain
# ending (_URL_ENDING, found in one fast pass), so they are spared the search from every word.
_URL_TLDS = r"(?:com|net|org|io|ai|de|eu|fm|pro|live|info|biz|dev|app|edu|gov)"
_URL_DOMAIN = re.compile(r"\b[a-z][a-z0-9-]*\." + _URL_TLDS + r"(?:/|\b(?!\.))")
_URL_ENDING = re.compile(r"\." + _URL_TLDS)
_MAIL = re.compile(r"[\w.+-]@[a-z][\w-]*\.[a-z]{2,}")
# A `compatible` comment that is not MSIE's (or an old browser's that copied it).
_COMPATIBLE = re.compile(
    r"\(compatible(?:;|\))(?!\s*(?:U;|(?:MSIE|IEMobile|Konqueror|Opera|Windows|ms-office|"
    r"MSOffice|Lotus-Notes|Mozilla)\b))",
    re.IGNORECASE,
)
# Platforms that an old browser's `(compatible; ...)` comment names and a bot's does not.
_PLATFORM_WORDS = re.compile(
    r"Linux|Windows|Win\d|Macintosh|Mac OS|RISC OS|Android|iPhone|BeOS|OS/2|SunOS|BSD|AmigaOS|"
    r"Haiku|Syllable|Brew|Nintendo|PlayStation|Series ?\d0|Symbian"
)
_FIRST_COMMENT = re.compile(r"\([^()]*\)")
_PLATFORM_OR_BROWSER = re.compile(
    r"iPhone|iPad|iPod|Android|Windows|Macintosh|Mac OS|Linux|smarttv|Chrom|Firefox|Safari|"
    r"Opera|KaiOS|Tizen|Browser|MIDP|CLDC|MAUI|WAP|Nintendo|Harmony|AmigaOS|Profile/",
    re.I,
)
_LONE_WORD = re.compile(r"^[A-Za-z][\w.!:-]*$")
# A Mozilla/x.y user agent whose first comment names no platform, or that has none.
_MOZILLA_NO_PLATFORM = re.compile(
    r"^Mozilla/[\d.]++(?: \((?![^)]*(?:" + _PLATFORM_WORDS.pattern + r"|;))[^)]*\)|(?! \()|$)"
)
_LEADING_PRODUCT = re.compile(r"[\w.!+-]+/\S")
_BARE_PRODUCT = re.compile(r"^[\w.!-]+/[\w.+-]+$")


def tokens(lower: str) -> list[str]:
    """Return the word tokens of a lower-cased user agent (`outlook-ios`, `googlebot`, ...)."""
    return _TOKENS.findall(lower)


def _has_url(lower: str) -> bool:
    """Return whether lower holds a URL, a domain name or an obfuscated address."""
    if "http:" in lower or "https:" in lower or "www." in lower or "[at]" in lower:
        return True
    return _URL_ENDING.search(lower) is not None and _URL_DOMAIN.search(lower) is not None


def bot_evidence(
    ua: str, lower: str | None = None, words: list[str] | None = None
) -> tuple[str, str | None] | None:
    """Return (evidence, bot name or None) when a user agent shows a machine, else None.

    lower and words, when given, are ua lower-cased and its `tokens`, already cut.
    """
    if lower is None:
        lower = ua.lower()
    if words is None:
        words = _TOKENS.findall(lower)
    # The first comment is the platform's and names the device: a model (RUBY, HYPER X,
    # CUBOT) is not a bot and `(Java; U; MIDP-2.0)` is a phone's platform, so only a named
    # crawler's token counts there (Storebot-Google puts its name in it).
    first = _FIRST_COMMENT.search(lower)
    outside = lower if first is None else lower[: first.start()] + " " + lower[first.end() :]
    if not BOT_PRODUCTS.isdisjoint(words):
        # Only a browser's first comment names a device; a tool's names its library.
        inside = first is not None and lower.startswith("mozilla/")
        for token in words:
            if token in BOT_PRODUCTS and (
                token in NAMED_CRAWLERS or not inside or token in outside
            ):
                at = lower.find(token)
                name = ua[at : at + len(token)]
                return f"the product token of a known crawler, tool or HTTP library ({name})", name
    if _has_url(lower) or ("@" in lower and _MAIL.search(lower)):
        return "a URL, a domain name or an e-mail address in the user agent", None
    if "${" in ua:
        return "a template or injection probe (${...}) in the user agent", None
    if "(khtml, like gecko;" in lower:
        return "words added inside WebKit's '(KHTML, like Gecko)', which browsers never do", None
    if "compatible" in lower:
        found = _COMPATIBLE.search(ua)
        end = ua.find(")", found.end()) if found else -1
        if found and not _PLATFORM_WORDS.search(ua[found.end() : end if end >= 0 else None]):
            return "a '(compatible; ...)' comment that is not old Internet Explorer's", None
    word = _BOT_WORDS.search(outside)
    if word:
        return f"the bot word '{word.group(0).strip('/_;-')}' beside the platform", None
    return None


def weak_bot_shape(ua: str) -> str | None:
    """Return why a user agent's bare shape is a machine's, or None.

    Asked after the generic mail-app shapes: a lone word or a bare `name/version` with no
    platform is what HTTP libraries and scripts send; no browser or mail client does.
    """
    if ua.startswith("Mozilla/") and _MOZILLA_NO_PLATFORM.match(ua):
        return "a Mozilla/x.y user agent that names no platform, as no browser sends"
    if _PLATFORM_OR_BROWSER.search(ua):
        return None
    if _LONE_WORD.match(ua):
        return "a lone word naming no known client or platform"
    if _BARE_PRODUCT.match(ua):
        return "a bare name/version with no platform, as HTTP libraries send"
    if not _LEADING_PRODUCT.match(ua):
        return "no product/version token to begin with, as every browser and mail client sends"
    return None
