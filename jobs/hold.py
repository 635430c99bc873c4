"""A held run in numbers and the one sentence that says why it was held (pure: the planner raises it too)."""
from dataclasses import dataclass


def percent_text(value: float) -> str:
    """12.5, 20, 33.3: at most one decimal, none when whole."""
    return f"{round(value, 1):g}"


@dataclass(frozen=True)
class ArchiveHold:
    """A run the archive guard stopped: how many it tried to archive against which threshold."""

    would_archive: int
    rostered_total: int
    threshold: float
    uncounted: tuple[str, ...] = ()  # e.g. ("Teachers",): roles Archive leaves alone are not in the total

    @property
    def share(self) -> float | None:
        return 100 * self.would_archive / self.rostered_total if self.rostered_total else None

    def sentence(self, subject: str = "This sync tried") -> str:
        """Why the run was held; a preview says "A sync now would" for what a real run would meet."""
        if self.rostered_total and self.would_archive >= self.rostered_total and self.threshold >= 100:
            return (f"{subject} to archive all {self.rostered_total:,} rostered people, which is held whatever "
                    "the threshold: the SIS listed none of them for this school, which is nearly always a wrong SIS "
                    "School ID or a client that may no longer read them")
        share = f" ({percent_text(self.share)}%)" if self.share is not None else ""
        return (f"{subject} to archive {self.would_archive:,} of {self.rostered_total:,} rostered people"
                f"{share}, more than the {percent_text(self.threshold)}% threshold")

    def preview_sentence(self) -> str:
        """A preview's warning: the real run would stop here instead of archiving."""
        return (f"{self.sentence('A sync now would try')}, so it would be held for review and archive nobody until "
                "it is approved. Check who is missing before you sync: a wrong School ID, an SIS listing or export "
                "that leaves people out, or a missing SIS permission is the usual cause.")
