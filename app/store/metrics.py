"""Named counters in the store: bad tokens, recording errors and the like."""

from app.store.database import Database


class Metrics:
    """Add to and read named counters."""

    def __init__(self, db: Database):
        self.db = db

    def add_metric(self, name: str, amount: int) -> None:
        """Add to a named counter, such as pixel requests with a bad token."""
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO metrics (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = metrics.value + excluded.value",
                [name, amount],
            )

    def metrics(self) -> dict[str, int]:
        """Return every named counter."""
        return {row["name"]: row["value"] for row in self.db.execute("SELECT * FROM metrics")}
