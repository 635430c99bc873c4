"""What the drop does with what it receives, inside the portal's app context (called from the server's threads):
completed bundles go to jobs.bundles.accept_bundle (validated, recorded, synced now or at night); a transfer cut off
midway is recorded as refused, so the page's list of received files says what happened."""
import logging
import shutil
from pathlib import Path

from jobs.bundles import accept_bundle
from jobs.source_bundles import accept_source_bundle
from store.db import db
from store.models import RosterBundle, SftpAccount, utcnow

log = logging.getLogger(__name__)


def hand_on(school_id: int | None, path: Path, filename: str, *, source_id: int | None = None):
    """accept_bundle moves the zip (or folder of CSV files) into the school's bundle storage (a district CSV
    source's account: accept_source_bundle, the source's); a failure is recorded, never left silent."""
    try:
        if source_id is not None:
            return accept_source_bundle(source_id, str(path), via="sftp", filename=filename)
        return accept_bundle(school_id, str(path), via="sftp", filename=filename)
    except Exception:
        log.exception("SFTP drop: could not take in %s for school %s / source %s", filename, school_id, source_id)
        db.session.rollback()
        size = path.stat().st_size if path.is_file() else 0
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        _refused(school_id, filename, size, "The portal could not take in this file (an internal error, logged for "
                                            "the administrator); nothing was synced. Send it again; if it keeps "
                                            "happening, tell the portal's administrator.", source_id=source_id)
        return None


def record_cut_off(school_id: int | None, filename: str, size: int, set_aside: int = 0, *,
                   source_id: int | None = None) -> None:
    """A transfer that ended before the client closed the file: discarded (it may be any part of a bundle)."""
    message = (f"The upload was cut off after {_size(size)}, before the file was complete, so it was discarded "
               "and nothing was synced.")
    if set_aside:
        message += (f" The {set_aside} CSV file{'s' if set_aside != 1 else ''} sent before it "
                    f"{'was' if set_aside == 1 else 'were'} set aside too.")
    _refused(school_id, filename, size, message + " Send the whole bundle again.", source_id=source_id)


def record_interrupted(username: str, filename: str, size: int) -> None:
    """A file the server found in an account's folder when it started: it stopped while the file arrived."""
    account = db.session.scalar(db.select(SftpAccount).where(SftpAccount.username == username))
    if account is not None:
        _refused(account.school_id, filename, size, "The SFTP server stopped while this file was arriving, so it "
                                                    "was discarded and nothing was synced. Send the whole bundle "
                                                    "again.", source_id=account.source_id)


def _refused(school_id: int | None, filename: str, size: int, message: str, *, source_id: int | None = None) -> None:
    db.session.add(RosterBundle(school_id=None if source_id is not None else school_id, source_id=source_id,
                                via="sftp", filename=filename[:255], size=size,
                                received_at=utcnow(), status="refused", summary=message))
    db.session.commit()


def _size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} bytes"
