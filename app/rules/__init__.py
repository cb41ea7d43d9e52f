"""Pure judgement: which client made a fetch, person or machine, networks, bursts, clicks, and
what privacy settings keep. No Flask, no database: plain values in, verdicts out.
"""
