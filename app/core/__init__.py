"""Pure domain: tokens, injection, links, rates and stats, exports, webhook payloads, the field
rules shared by the API and the dashboard, and the inject use case. No Flask, no database.
"""
