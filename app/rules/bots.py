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
    httrack pingdomtms daumoa appinsights newsboat newsbeuter applecoremedia
    lavf zapier ifttt microsoft-flow azure-logic-apps n8n
    jsdom happydom
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


def _one_pattern(*texts: str, flags: int = 0) -> re.Pattern[str]:
    """Compile whitespace-separated alternatives, each beginning with a literal, as one pattern.

    (A space inside an alternative is written `\\x20`.) The alternatives are grouped by that
    first character (`b(?:ot\\b|ot[/_;-])|c(?:rawl|...)`), so that `re` tries one group per
    position, not every alternative: two to three times faster on a browser's user agent than
    the flat alternation. Word starts are asserted
    after the literal (`cli\\b(?<![a-z0-9_]cli)`), never with a leading `\\b`.
    """
    groups: dict[str, list[str]] = {}
    for branch in (branch for text in texts for branch in text.split()):
        first = branch[0].lower() if flags & re.IGNORECASE else branch[0]
        groups.setdefault(first, []).append(branch[1:])
    return re.compile(
        "|".join(
            re.escape(first) + (rest[0] if len(rest) == 1 else "(?:" + "|".join(rest) + ")")
            for first, rest in groups.items()
        ),
        flags,
    )


# What a loosened alternative may hold: lower-case ASCII text, `\x20`, `\.`, `\[`, `\]`,
# classes of those, `(?:` groups, `|` and `?`.
_LOOSE_SYNTAX = re.compile(r"(?:[a-z0-9/_;.:!-]|\\x20|\\[.\[\]]|\[[a-z0-9/_;\\x-]+\]|\(\?:|[|)?])+")


def _loose_screen(*texts: str):  # noqa: ANN202 - a Rust extractor's method, or None
    r"""Return a fast test that is true wherever the patterns could match, or None.

    texts: patterns, or whitespace-separated alternatives as `_one_pattern` takes them. For
    patterns asked of nearly every user agent and seldom matching (a browser has no bot
    word): each alternative loosened so that it matches wherever it did, and maybe more
    often (its lookarounds and word boundaries dropped, `\d` made any character), then all
    of them compiled by the Rust regex engine that ua-parser-rs carries (one of its
    extractors), which tells a browser's user agent has none of them several times faster
    than `re` searches the pattern itself. What remains is plain ASCII text, character
    classes of it, groups and `?`, which both engines read alike; anything else fails here,
    at import. Only where the test is true is the pattern searched (same answers, by
    construction; tests/rules/test_rule_speedups.py checks it on the labelled table).
    """
    try:
        from ua_parser_rs import DeviceExtractor
    except ImportError:  # pragma: no cover - ua-parser-rs missing: the pattern alone
        return None
    loose = []
    for branch in (branch for text in texts for branch in text.split()):
        branch = re.sub(r"\(\?<?[=!][^()]*\)", "", branch).replace(r"\b", "")
        branch = branch.replace(r"\d", ".")
        if not _LOOSE_SYNTAX.fullmatch(branch):
            raise ValueError(f"cannot loosen {branch!r} for the Rust screen")
        loose.append(branch)
    return DeviceExtractor([("|".join(loose), None, "screen", None, None)]).extract


# Bot words and machine markers read outside the device comments.
_BOT_WORD_TEXTS = (
    r"""bot\b bot[/_;-] robot crawl spider scrap slurp archiv fetcher harvest indexer monitor
    uptime checker validator preview prefetch headless scanner feed rss(?<![a-z0-9_]rss) rss\b
    transcoder http[\x20_-]?client java-client trackersdk library cli\b(?<![a-z0-9_]cli)""",
    # What synthetic monitors, site auditors and link tools call themselves (device-detector's
    # bots.yml and uap-core's Spider rules: Ruxit Synthetic, Ghost Inspector, Google Favicon,
    # AhrefsSiteAudit, Cloudflare Diagnostics, PageAnalyzer, TLSProber, WebThumbnail, HTTrack's
    # and Offline Explorer's website copiers, Java's HttpURLConnection, ThousandEyes Agent).
    r"""synthetic inspector favicon audit diagnos analy[sz]er downloader screenshot thumbnail
    scan\b scan/ optimi[sz]er verifier verification metadata render prob(?:e|er)\b
    health\x20?check seo\b(?<![a-z0-9_]seo) podcast podder webcopy offline\x20explorer sitesucker
    webzip capture httpurlconnection http\x20?request agent\b(?<!_agent)""",
    # AI assistants fetching for a user (ChatGPT-User, Perplexity-User, MistralAI-User), and
    # Google's own fetchers, Google-Xxx or Xxx-Google (Google's list of its crawlers).
    r"-user/\d",
    r"google-[a-z](?<![a-z0-9_]google-[a-z])",
    r"-google\b",
)
_BOT_WORDS = _one_pattern(*_BOT_WORD_TEXTS)
_BOT_WORDS_SCREEN = _loose_screen(*_BOT_WORD_TEXTS)
# A URL or a domain name (its name ends in a letter, or a letter and a digit): the domain's
# dot comes first, so `re` skips to the dots.
_URL = re.compile(
    r"https?:|www\.|\[at\]|\.(?:(?<=[a-z]\.)|(?<=[a-z][\d-]\.))(?:com|net|org|io|ai|de|eu|fm|pro|live|info|biz|"
    r"dev|app|edu|gov)(?:/|\b(?!\.))"
)
# Country and newer top-level domains, read outside a device's comment (`Q.Me` is a phone).
_DOMAIN = re.compile(
    r"\.(?:(?<=[a-z]\.)|(?<=[a-z][\d-]\.))(?:co|ly|gy|bg|fr|so|me|us|uk|nl|it|es|pl|cz|jp|cn|in|xyz|ru|tv|se|ch|"
    r"at|be|dk|fi|no|br|au|ca|cc|to|sh|site|tech|cloud|page)(?:/|\b(?![.-]))"
)
# A desktop Chromium's user agent with a name and no version after its last `Safari/`: what
# site auditors and monitors append (DareBoost, Ghost Inspector, GTmetrix, StatusCake in
# device-detector's bots.yml); browsers append versioned tokens (`Edg/`, `OPR/`). Valve's
# Steam Deck, which appends its device's name, aside.
_DESKTOP_TAIL = re.compile(
    r"^Mozilla/5\.0 \((?:Windows NT|Macintosh|X11)[^)]*\) AppleWebKit/[\d.]+ \(KHTML, like Gecko\) "
    r".*Safari/[\d.]+;? \(?(?!SteamDeck)[A-Z][A-Za-z]*[a-z][A-Za-z]*(?:[- ][A-Z][A-Za-z]+)?\)?$"
)
_MAIL = re.compile(r"[\w.+-]@[a-z][\w-]*\.[a-z]{2,}")
# One screen for the two above (`_loose_screen`), asked of the whole lower-cased user agent:
# loosened, neither can match a space, so a domain found outside the device comment (the text
# with the comment cut out and a space in its place) lies in the whole text too.
_ADDRESS_SCREEN = _loose_screen(_URL.pattern, _DOMAIN.pattern)
# A `compatible` comment that is not MSIE's (or an old browser's that copied it).
_COMPATIBLE = re.compile(
    r"\(compatible(?:;|\))(?!\s*(?:U;|MSIE ?\d|(?:IEMobile|Konqueror|Opera|Windows|ms-office|"
    r"MSOffice|Lotus-Notes|Mozilla)\b))",
    re.IGNORECASE,
)
# Platforms that an old browser's `(compatible; ...)` comment names and a bot's does not.
_PLATFORM_WORDS = re.compile(
    r"Linux|Windows|Win\d|Macintosh|Mac OS|RISC OS|Android|iPhone|BeOS|OS/2|SunOS|BSD|AmigaOS|"
    r"Haiku|Syllable|Brew|Nintendo|PlayStation|Series ?\d0|Symbian"
)
_FIRST_COMMENT = re.compile(r"\([^()]*\)")
# The first comment is read for bot words unless it may name a device model: a phone's, a
# tablet's or a TV's (`(Linux; Android 13; CUBOT X30)`, `(Java; U; MIDP-2.0)`) may, a desktop's
# (`(X11; Ubuntu; Linux x86_64; rv:17.0; Baiduspider-ads)`), old Internet Explorer's
# (`(compatible; MSIE 6.0; Windows NT 5.0; baidu Transcoder;)`) or a tool's (`(dart:io)`) does
# not.
_DEVICE_WORDS = _one_pattern(
    r"""phone mobile android tablet ipad ipod tv\b(?<![a-z0-9_]tv) smart-?tv wv\b build/ midp
    cldc java; symbian series\x20?\d0 nokia samsung kindle playstation nintendo brew hbbtv
    kaios harmony tizen webos web0s"""
)
# A placeholder where a browser puts its version (`Firefox/firefoxversion`): a template.
# Written slash first (`/` after one of the names, as lookbehinds), so that re skips from one
# `/` to the next instead of trying the names at every position: three times faster, and it
# matches where the plain `(?:firefox|...)/[a-z]+(?:\s|$)` does (only whether is read).
_PLACEHOLDER = re.compile(
    r"/(?:(?<=firefox/)|(?<=chrome/)|(?<=gecko/)|(?<=applewebkit/)|(?<=safari/))[a-z]+(?:\s|$)"
)
# Code editors on Electron, whose agents fetch pages (crawler-user-agents: Code/1., Trae/).
_EDITOR = re.compile(r"(?:^|\s)(?:code|cursor|trae|windsurf)/[\d.]+ chrome/[\d.]+ electron/")
_PLATFORM_OR_BROWSER_WORDS = r"""iPhone iPad iPod Android Windows Macintosh Mac\x20OS Linux smarttv
    Chrom Firefox Safari Opera KaiOS Tizen Browser MIDP CLDC MAUI WAP Nintendo Harmony AmigaOS
    Profile/"""
_PLATFORM_OR_BROWSER = _one_pattern(_PLATFORM_OR_BROWSER_WORDS, flags=re.IGNORECASE)
# The same words in lower case without the flag, for a user agent that is all ASCII, lower-cased:
# there, ignoring case is comparing lower cases (re's Unicode case-folding adds equivalents only
# for characters outside ASCII, such as the Kelvin sign for k), and re searches five times
# faster without the flag (tests/rules/test_rule_speedups.py compares the two).
_PLATFORM_OR_BROWSER_ASCII = _one_pattern(_PLATFORM_OR_BROWSER_WORDS.lower())
_LONE_WORD = re.compile(r"^[A-Za-z][\w.!:-]*$")
_DIGIT = re.compile(r"\d")
# A Mozilla/x.y user agent whose first comment names no platform, or that has none.
# (Old browsers put a language tag before it, `Mozilla/5.0 [en] (PalmOS; ...)`, and some TVs
# no space, `Mozilla/5.0(SmartHub; ...)`.)
_MOZILLA_NO_PLATFORM = re.compile(
    r"^Mozilla/[\d.]++(?: \[[\w-]+\])?+(?: ?\((?![^)]*(?:"
    + _PLATFORM_WORDS.pattern
    + r"|;))[^)]*\)|(?! ?\()|$)"
)
_LEADING_PRODUCT = re.compile(r"[\w.!+-]+/\S")
# A bare name/version (the version may be missing, or followed by an empty comment).
_BARE_PRODUCT = re.compile(r"^[\w.!-]+/[\w.+-]*(?: \(\))?$")
# One name/version and one comment naming no platform (`Name/1.0 (example)`), asked after
# the platform check; `Mozilla/x.y (...)` has a rule of its own.
_PRODUCT_AND_COMMENT = re.compile(r"^(?!Mozilla/)[\w.!-]+/[\w.+-]+ \([^()]*\)$")


def tokens(lower: str) -> list[str]:
    """Return the word tokens of a lower-cased user agent (`outlook-ios`, `googlebot`, ...)."""
    return _TOKENS.findall(lower)


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
    if first is not None and not _DEVICE_WORDS.search(first.group(0)):
        first = None
    outside = lower if first is None else lower[: first.start()] + " " + lower[first.end() :]
    if BOT_PRODUCTS.isdisjoint(words):
        # A known product joined to other words (`Daumoa-image`, `grpc-java-okhttp`).
        heads = [part for word in words if "-" in word for part in word.split("-")]
        if heads and not BOT_PRODUCTS.isdisjoint(heads):
            words = [*words, *heads]
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
    address = _ADDRESS_SCREEN is None or _ADDRESS_SCREEN(lower) is not None
    if (
        (address and _URL.search(lower))
        or ("@" in lower and _MAIL.search(lower))
        or (address and "." in outside and _DOMAIN.search(outside))
    ):
        return "a URL, a domain name or an e-mail address in the user agent", None
    if "${" in ua:
        return "a template or injection probe (${...}) in the user agent", None
    if "(khtml, like gecko;" in lower:
        return "words added inside WebKit's '(KHTML, like Gecko)', which browsers never do", None
    if "/" in lower and _PLACEHOLDER.search(lower):
        return "a placeholder where a browser's version belongs, as templates send", None
    if "electron/" in lower and _EDITOR.search(lower):
        return "a code editor's own token beside Electron's, as its agents send", None
    if "compatible" in lower:
        found = _COMPATIBLE.search(ua)
        end = ua.find(")", found.end()) if found else -1
        if found and not _PLATFORM_WORDS.search(ua[found.end() : end if end >= 0 else None]):
            return "a '(compatible; ...)' comment that is not old Internet Explorer's", None
    if (ua.endswith(")") or ua[-1:].isalpha()) and _DESKTOP_TAIL.match(ua):
        return "a name without a version after a desktop browser's last token", None
    # The Rust screen first: where it finds nothing, the pattern cannot match (above).
    screen = _BOT_WORDS_SCREEN
    word = _BOT_WORDS.search(outside) if screen is None or screen(outside) else None
    if word:
        return f"the bot word '{word.group(0).strip('/_;-')}' beside the platform", None
    return None


def names_platform_or_browser(ua: str) -> bool:
    """Return whether ua names a platform or a browser (`_PLATFORM_OR_BROWSER`, any case)."""
    if ua.isascii():
        return _PLATFORM_OR_BROWSER_ASCII.search(ua.lower()) is not None
    return _PLATFORM_OR_BROWSER.search(ua) is not None


def weak_bot_shape(ua: str) -> str | None:
    """Return why a user agent's bare shape is a machine's, or None.

    Asked after the generic mail-app shapes: a lone word or a bare `name/version` with no
    platform is what HTTP libraries and scripts send; no browser or mail client does.
    """
    if ua.startswith("Mozilla/") and _MOZILLA_NO_PLATFORM.match(ua):
        return "a Mozilla/x.y user agent that names no platform, as no browser sends"
    named = names_platform_or_browser(ua)
    # No browser sends its bare name (`Chrome`, `firefox`); a lone word with a platform and a
    # build number in it may be a TV's (`smarttv_..._Chromium_59.0`). (A lone word has no space.)
    if " " not in ua and _LONE_WORD.match(ua) and not (named and _DIGIT.search(ua)):
        return "a lone word naming no known client or platform"
    if named:
        return None
    if _BARE_PRODUCT.match(ua):
        return "a bare name/version with no platform, as HTTP libraries send"
    if _PRODUCT_AND_COMMENT.match(ua):
        return "a name/version whose comment names no platform, as tools send"
    if not _LEADING_PRODUCT.match(ua):
        return "no product/version token to begin with, as every browser and mail client sends"
    return None
