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
from collections.abc import Iterable


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
# classes of those, `(?:` groups, `|` and `?`; `.` is any character.
_LOOSE_SYNTAX = re.compile(r"(?:[a-z0-9/_;.:!-]|\\x20|\\[.\[\]]|\[[a-z0-9/_;\\x-]+\]|\(\?:|[|)?])+")
_LOOSE_ITEM = re.compile(r"\\x20|\\[.\[\]]|\[[^\]]*\]|\(\?:|.")


def _loosen(branch: str) -> str:
    r"""Return a pattern branch that matches wherever it did, and maybe more often; or raise
    ValueError: its lookarounds and word boundaries dropped, `\d` made any character."""
    branch = re.sub(r"\(\?<?[=!][^()]*\)", "", branch).replace(r"\b", "")
    branch = branch.replace(r"\d", ".")
    if not _LOOSE_SYNTAX.fullmatch(branch):
        raise ValueError(f"cannot loosen {branch!r} for a screen")
    return branch


def needed_texts(branch: str, joined: bool = False) -> set[str]:
    r"""Return texts of which every text that a pattern branch matches holds at least one.

    The branch is loosened (`_loosen`), then read as pieces: a character, a class, a group or
    `?` gives the finite texts it matches; `.` any text. Of each alternative, the run of pieces
    between two `.` whose shortest text is longest is kept, as the texts it matches.
    joined: the branch is searched in a text with a piece cut out and a space in its place
    (`outside`, below), so where it has a space, any text may stand.
    """
    items = _LOOSE_ITEM.findall(_loosen(branch))
    alternatives, end = _alternatives(items, 0, joined)
    if end != len(items):
        raise ValueError(f"unbalanced group in {branch!r}")
    needed: set[str] = set()
    for pieces in alternatives:
        runs = [_exact(run) for run in _runs(pieces)]
        best = max(runs, key=lambda texts: min(map(len, texts)), default={""})
        if min(map(len, best)) == 0:
            raise ValueError(f"some match of {branch!r} holds no text")
        needed |= best
    return needed


def _alternatives(items: list[str], at: int, joined: bool) -> tuple[list[list], int]:
    """Read items from at to the end or a `)`: (its alternatives, each a list of pieces, each
    the set of texts it matches or None for any text; where it stopped)."""
    alternatives: list[list] = []
    pieces: list[set[str] | None] = []
    while at < len(items) and items[at] != ")":
        item = items[at]
        at += 1
        piece: set[str] | None
        if item == "|":
            alternatives.append(pieces)
            pieces = []
            continue
        if item == "(?:":
            inner, at = _alternatives(items, at, joined)
            at += 1
            texts = [None if None in run else _exact(run) for run in inner]
            piece = None if None in texts else set().union(*texts)
        elif item == "?":
            last = pieces.pop()
            piece = None if last is None else last | {""}
        elif item == ".":
            piece = None
        elif item.startswith("["):
            piece = _class(item[1:-1])
            piece = None if joined and " " in piece else piece
        elif item == r"\x20":
            piece = None if joined else {" "}
        else:
            piece = {item[-1]}
        pieces.append(piece)
    alternatives.append(pieces)
    return alternatives, at


def _class(body: str) -> set[str]:
    body = body.replace(r"\x20", " ")
    chars: set[str] = set()
    at = 0
    while at < len(body):
        if at + 2 < len(body) and body[at + 1] == "-":
            chars |= {chr(code) for code in range(ord(body[at]), ord(body[at + 2]) + 1)}
            at += 3
        else:
            chars.add(body[at])
            at += 1
    return chars


def _runs(pieces: list[set[str] | None]) -> list[list[set[str]]]:
    runs: list[list[set[str]]] = [[]]
    for piece in pieces:
        if piece is None:
            runs.append([])
        else:
            runs[-1].append(piece)
    return [run for run in runs if run]


def _exact(run: list[set[str]]) -> set[str]:
    texts = {""}
    for piece in run:
        texts = {head + tail for head in texts for tail in piece}
        if len(texts) > 1_000:
            raise ValueError("a screened pattern's texts are too many to list")
    return texts


def text_screen(texts: Iterable[str], found_texts: bool = False):  # noqa: ANN201 - as below
    """Return a test of a text: a true value (a list of where) when one of texts is in it.

    Aho-Corasick (ahocorasick-rs, the Rust crate behind the regex engine's own literal
    searches): one pass over the user agent for hundreds of texts, about a microsecond; None
    when the package is missing (then every pattern is searched). found_texts: the test gives
    the texts found instead (`find_matches_as_strings`).
    """
    try:
        from ahocorasick_rs import AhoCorasick, Implementation
    except ImportError:  # pragma: no cover - ahocorasick-rs missing: the patterns alone
        return None
    finder = AhoCorasick(sorted(texts), implementation=Implementation.DFA)
    return finder.find_matches_as_strings if found_texts else finder.find_matches_as_indexes


def _loose_screen(*texts: str):  # noqa: ANN202 - as text_screen
    r"""Return a fast test that is true wherever the patterns could match, or None.

    texts: patterns, or whitespace-separated alternatives as `_one_pattern` takes them. For
    patterns asked of nearly every user agent and seldom matching (a browser has no bot
    word): the texts one of which every match holds (`needed_texts`), looked for at once
    (`text_screen`), which tells that a browser's user agent has none of them several times
    faster than `re` searches the patterns. Only where the test is true are the patterns
    searched (same answers, by construction; tests/rules/test_rule_speedups.py checks it).
    """
    return text_screen({found for text in texts for b in text.split() for found in needed_texts(b)})


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
# The same words in lower case, looked for at once (`text_screen`) in a user agent that is all
# ASCII, lower-cased: there, ignoring case is comparing lower cases (re's Unicode case-folding
# adds equivalents only for characters outside ASCII, such as the Kelvin sign for k), and the
# words are plain text (tests/rules/test_rule_speedups.py compares the two).
_PLATFORM_OR_BROWSER_ASCII = text_screen(
    {text for word in _PLATFORM_OR_BROWSER_WORDS.lower().split() for text in needed_texts(word)}
)
_LONE_WORD = re.compile(r"^[A-Za-z][\w.!:-]*$")
_DIGIT = re.compile(r"\d")
# How a Mozilla/x.y user agent begins (old browsers put a language tag after it,
# `Mozilla/5.0 [en] (PalmOS; ...)`).
_MOZILLA_HEAD = re.compile(r"Mozilla/[\d.]++(?: \[[\w-]+\])?+")
_LEADING_PRODUCT = re.compile(r"[\w.!+-]+/\S")
# A bare name/version (the version may be missing, or followed by an empty comment).
_BARE_PRODUCT = re.compile(r"^[\w.!-]+/[\w.+-]*(?: \(\))?$")
# One name/version and one comment naming no platform (`Name/1.0 (example)`), asked after
# the platform check; `Mozilla/x.y (...)` has a rule of its own.
_PRODUCT_AND_COMMENT = re.compile(r"^(?!Mozilla/)[\w.!-]+/[\w.+-]+ \([^()]*\)$")


def tokens(lower: str) -> list[str]:
    """Return the word tokens of a lower-cased user agent (`outlook-ios`, `googlebot`, ...)."""
    return _TOKENS.findall(lower)


def _outside(lower: str) -> str:
    """Return a lower-cased user agent with its first comment cut out (a space in its place)
    when that comment may name a device, else the user agent itself.

    The first comment is the platform's and names the device: a model (RUBY, HYPER X, CUBOT)
    is not a bot, and `(Java; U; MIDP-2.0)` is a phone's platform.
    """
    first = _FIRST_COMMENT.search(lower)
    if first is None or not _DEVICE_WORDS.search(first.group(0)):
        return lower
    return lower[: first.start()] + " " + lower[first.end() :]


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
    outside = None  # `_outside(lower)`, cut when first needed
    if BOT_PRODUCTS.isdisjoint(words):
        # A known product joined to other words (`Daumoa-image`, `grpc-java-okhttp`).
        heads = [part for word in words if "-" in word for part in word.split("-")]
        if heads and not BOT_PRODUCTS.isdisjoint(heads):
            words = [*words, *heads]
    if not BOT_PRODUCTS.isdisjoint(words):
        # Only a browser's first comment names a device (a tool's names its library), and
        # only a named crawler's token counts there (Storebot-Google puts its name in it).
        browser = lower.startswith("mozilla/")
        for token in words:
            if token not in BOT_PRODUCTS:
                continue
            if browser and token not in NAMED_CRAWLERS:
                outside = _outside(lower) if outside is None else outside
                if token not in outside:
                    continue
            at = lower.find(token)
            name = ua[at : at + len(token)]
            return f"the product token of a known crawler, tool or HTTP library ({name})", name
    outside = _outside(lower) if outside is None else outside
    address = _ADDRESS_SCREEN is None or bool(_ADDRESS_SCREEN(lower))
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
    tail = desktop_tail(ua)
    if tail:
        return tail, None
    # The screen first: where it finds nothing, the pattern cannot match (`_loose_screen`).
    screen = _BOT_WORDS_SCREEN
    word = _BOT_WORDS.search(outside) if screen is None or screen(outside) else None
    if word:
        return f"the bot word '{word.group(0).strip('/_;-')}' beside the platform", None
    return None


def desktop_tail(ua: str) -> str | None:
    """Return why a desktop browser's user agent with a bare name appended is a machine's."""
    if (ua.endswith(")") or ua[-1:].isalpha()) and _DESKTOP_TAIL.match(ua):
        return "a name without a version after a desktop browser's last token"
    return None


# Plain text that `bot_evidence` needs in a lower-cased user agent before it can say more
# than `desktop_tail`: a product of BOT_PRODUCTS (alone or joined by hyphens), the markers it
# looks for, a placeholder's plain form (`_PLACEHOLDER`).
_EVIDENCE_MARKERS = ("@", "${", "(khtml, like gecko;", "electron/", "compatible")
_PLACEHOLDER_TEXT = r"(?:firefox|chrome|gecko|applewebkit|safari)/[a-z]"


def evidence_texts(*literals: str) -> set[str]:
    """Return the texts a lower-cased user agent holds one of wherever `bot_evidence` can say
    more than `desktop_tail`, and literals (the caller's own texts, looked for in the same pass).

    Its products and markers, and the texts its patterns need (`needed_texts`; its bot words
    are searched with the device comment cut out, so they are read `joined`). A browser's user
    agent mostly has none of them, so its words are never cut and its dozen searches never run.
    """
    needed = {*BOT_PRODUCTS, *_EVIDENCE_MARKERS, *literals}
    for text in _BOT_WORD_TEXTS:
        for branch in text.split():
            needed |= needed_texts(branch, joined=True)
    for pattern in (_URL.pattern, _DOMAIN.pattern, _PLACEHOLDER_TEXT):
        needed |= needed_texts(pattern)
    return needed


def names_platform_or_browser(ua: str) -> bool:
    """Return whether ua names a platform or a browser (`_PLATFORM_OR_BROWSER`, any case)."""
    if "Windows" in ua or "Android" in ua or "iPhone" in ua or "Macintosh" in ua or "Linux" in ua:
        return True  # the commonest words, as browsers write them: plain text first
    if ua.isascii() and _PLATFORM_OR_BROWSER_ASCII is not None:
        return bool(_PLATFORM_OR_BROWSER_ASCII(ua.lower()))
    return _PLATFORM_OR_BROWSER.search(ua) is not None


def mozilla_without_platform(ua: str) -> bool:
    """Return whether a Mozilla/x.y user agent has no comment, or its first one names no
    platform (none of `_PLATFORM_WORDS`, no `;`); some TVs put no space before it,
    `Mozilla/5.0(SmartHub; ...)`.

    The comment is cut out and searched by itself: one pattern with the words in a lookahead
    tried them at every position of the comment (tests/rules/test_rule_speedups.py compares).
    """
    if ua.startswith("Mozilla/5.0 ("):  # nearly every browser's: no pattern needed
        at = 11
    else:
        head = _MOZILLA_HEAD.match(ua)
        if head is None:
            return False
        at = head.end()
    if ua.startswith(" (", at):
        at += 1
    elif not ua.startswith("(", at):
        return True
    close = ua.find(")", at)
    if close < 0:
        return False
    return ua.find(";", at, close) < 0 and _PLATFORM_WORDS.search(ua, at, close) is None


def weak_bot_shape(ua: str) -> str | None:
    """Return why a user agent's bare shape is a machine's, or None.

    Asked after the generic mail-app shapes: a lone word or a bare `name/version` with no
    platform is what HTTP libraries and scripts send; no browser or mail client does.
    """
    if ua.startswith("Mozilla/") and mozilla_without_platform(ua):
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
