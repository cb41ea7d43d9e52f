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
    pycurl requests curl libcurl wget go-http-client okhttp java apache-httpclient
    jakarta commons-httpclient node-fetch axios undici got node node.js superagent needle
    libwww-perl lwp-trivial lwp-useragent php guzzlehttp wordpress ruby faraday
    httparty rest-client typhoeus mechanize http.rb dart reqwest hyper restsharp
    httpie postmanruntime insomnia windowspowershell powershell winhttp
    cpp-httplib lua-resty-http colly scrapy feedparser rss2email
    feedly inoreader newsblur feedbin theoldreader tiny-tiny-rss freshrss
    miniflux feedspot feedburner netnewswire
    nmap nikto sqlmap masscan zgrab nuclei wpscan gobuster dirbuster ffuf censys
    censysinspect shodan netcraft expanse internetmeasurement securitytrails
    qualys nessus openvas acunetix burp zap owasp
    """
)
_TOKENS = re.compile(r"[a-z][a-z0-9]*(?:[-_.!][a-z0-9]+)*")
# Bot words and machine markers read outside the device comments.
_BOT_WORDS = re.compile(
    r"bot\b|bot[/_;-]|robot|crawl|spider|scrap|slurp|archiv|fetcher|harvest|indexer|"
    r"monitor|uptime|checker|validator|preview|headless|scanner|feed|rss\b|"
    r"http[ _-]?client|library|sdk/|\bcli\b"
)
_URL = re.compile(r"https?:|www\.|\(\+|; \+|\[at\]")
_MAIL = re.compile(r"[\w.+-]@[\w-]+\.[a-z]{2,}")
# A `compatible` comment that is not MSIE's (or an old browser's that copied it).
_COMPATIBLE = re.compile(
    r"\(compatible(?:;|\))(?!\s*(?:MSIE|IEMobile|Konqueror|U;|Opera|Windows|ms-office|"
    r"MSOffice|Lotus-Notes|Mozilla)\b)",
    re.IGNORECASE,
)
_FIRST_COMMENT = re.compile(r"\([^()]*\)")
_LONE_WORD = re.compile(r"^[A-Za-z][\w.!-]*$")
_BARE_PRODUCT = re.compile(r"^[\w.!-]+/[\w.+-]+$")


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
    for token in words if words is not None else _TOKENS.findall(lower):
        if token in BOT_PRODUCTS:
            at = lower.find(token)
            name = ua[at : at + len(token)]
            return f"the product token of a known crawler, tool or HTTP library ({name})", name
    if _URL.search(lower) or ("@" in lower and _MAIL.search(lower)):
        return "a URL or an e-mail address in the user agent, which only bots carry", None
    if "compatible" in lower and _COMPATIBLE.search(ua):
        return "a '(compatible; ...)' comment that is not old Internet Explorer's", None
    # The first comment is the platform's and names the device; a model is not a bot.
    outside = _FIRST_COMMENT.sub(" ", lower, count=1) if "(" in lower else lower
    word = _BOT_WORDS.search(outside)
    if word:
        return f"the bot word '{word.group(0).strip('/_;-')}' beside the platform", None
    return None


def weak_bot_shape(ua: str) -> str | None:
    """Return why a user agent's bare shape is a machine's, or None.

    Asked after the generic mail-app shapes: a lone word or a bare `name/version` with no
    platform is what HTTP libraries and scripts send; no browser or mail client does.
    """
    if _LONE_WORD.match(ua):
        return "a lone word naming no known client or platform"
    if _BARE_PRODUCT.match(ua):
        return "a bare name/version with no platform, as HTTP libraries send"
    return None
