"""What the store raises when a request cannot be stored; callers catch these, never sqlite3's."""


class StoreError(Exception):
    """A request the store refused, with the offending value as its argument."""


class CampaignExists(StoreError):
    """A campaign with this id is already stored."""


class FollowUpExists(CampaignExists):
    """A follow-up's campaign id is already taken by a campaign."""


class NameTaken(StoreError):
    """An API key with this name is already stored."""


class EmailTaken(StoreError):
    """A dashboard user with this email is already stored."""


class Conflict(StoreError):
    """A write broke a unique or foreign key: what the engines' integrity errors become."""


class CopyMismatch(StoreError):
    """A copied database differs from its source: the first difference is the argument."""
