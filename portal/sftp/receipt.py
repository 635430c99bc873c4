"""What the drop does with what it receives, inside the portal's app context (called from the server's threads):
completed bundles go to jobs.bundles.accept_bundle (validated, recorded, synced now or at night); a transfer cut off
midway is recorded as refused, so the page's list of received files says what happened."""
import logging
import zipfile
from pathlib import Path

from store.db import db
from store.models import RosterBundle, utcnow

log = logging.getLogger(__name__)


def hand_on(school_id: int, path: Path, filename: str):
    """accept_bundle moves the file into the school's bundle storage; a failure is recorded, never left silent."""
    from jobs.bundles import accept_bundle
    try:
        return accept_bundle(school_id, str(path), via="sftp", filename=filename)
    except Exception:
        log.exception("SFTP drop: could not take in %s for school %s", filename, school_id)
        db.session.rollback()
        size = path.stat().st_size if path.exists() else 0
        path.unlink(missing_ok=True)
        _refused(school_id, filename, size, "The portal could not take in this file (an internal error, logged for "
                                            "the administrator); nothing was synced. Send it again; if it keeps "
                                            "happening, tell the portal's administrator.")
        return None


def zip_set(folder: Path, into: Path) -> Path:
    """The CSV files of a set, one zip (the form accept_bundle and the download take); the loose files removed."""
    with zipfile.ZipFile(into, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for csv_file in sorted(folder.iterdir()):
            archive.write(csv_file, arcname=csv_file.name)
    for csv_file in folder.iterdir():
        csv_file.unlink()
    folder.rmdir()
    return into


def record_cut_off(school_id: int, filename: str, size: int, set_aside: int = 0) -> None:
    """A transfer that ended before the client closed the file: discarded (it may be any part of a bundle)."""
    message = (f"The upload was cut off after {_size(size)}, before the file was complete, so it was discarded "
               "and nothing was synced.")
    if set_aside:
        message += f" The {set_aside} CSV file{'s' if set_aside != 1 else ''} sent with it were set aside too."
    _refused(school_id, filename, size, message + " Send the whole bundle again.")


def _refused(school_id: int, filename: str, size: int, message: str) -> None:
    db.session.add(RosterBundle(school_id=school_id, via="sftp", filename=filename[:255], size=size,
                                received_at=utcnow(), status="refused", summary=message))
    db.session.commit()


def _size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} bytes"
