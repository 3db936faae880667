"""Images a user marked "not an issue" in a review, remembered in the dataset folder.

``DATASET/.vehicleapp-reviewed.json`` holds their paths relative to the dataset (escaped as
in every CSV, :mod:`trainer.pathtext`), so a dismissed suspect never comes back, also after a
restart or a new review. No Qt here.
"""

from __future__ import annotations

from pathlib import Path

from trainer.atomic import read_json, write_json
from trainer.pathtext import decode, encode

MARKS = ".vehicleapp-reviewed.json"


class ReviewMarks:
    def __init__(self, dataset_root: Path) -> None:
        self.root = Path(dataset_root)
        self.path = self.root / MARKS
        self.dismissed: set[str] = set()  # relative paths, os.fsdecode form
        if self.path.is_file():
            try:
                self.dismissed = {decode(p) for p in read_json(self.path).get("not_an_issue", [])}
            except (OSError, ValueError, AttributeError):
                self.dismissed = set()

    def is_dismissed(self, rel: str) -> bool:
        return rel in self.dismissed

    def set_dismissed(self, rel: str, dismissed: bool = True) -> None:
        (self.dismissed.add if dismissed else self.dismissed.discard)(rel)
        write_json(self.path, {"not_an_issue": sorted(encode(p) for p in self.dismissed)})
