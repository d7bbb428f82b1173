"""Age-encrypted snapshots of the login only; verify, list, restore, revoke.

A snapshot is the login's allow-list (:data:`SNAPSHOT_PATHS`, the same table cleanup never touches: WhatsApp's
IndexedDB and Local Storage LevelDB folders under ``Default/``, and Chromium's ``Local State`` and
``Default/Preferences``), packed as a gzip-compressed tar and encrypted in the age format (``pyrage``), so
``age -d -i key.txt SNAPSHOT | tar xz`` opens one without watui. Caches, other sites and Chromium's own
databases are left out.

- Consistent while the browser runs: each LevelDB folder is copied the way LevelDB reads it (``CURRENT``,
  then the ``MANIFEST`` it names, then the live tables and logs that MANIFEST calls for), into memory; a
  file vanishing meanwhile (a compaction) or ``CURRENT`` moving on starts the copy of that folder again.
- Plaintext never touches the disk: the copy is read into memory, verified there (LevelDB checksums),
  packed there, and streamed into the encryption; the ciphertext goes to a temp file that is fsync'd
  and renamed. When the private key is at hand the written file is decrypted again in memory and
  verified; a snapshot that fails is deleted and the failure logged.
- Beside each ``<client_id>-<stamp>.tar.gz.age`` a small plaintext ``.json`` says when, how large, which
  account and whether it was verified or revoked: listing needs no key. It holds no secret (the account
  id is the phone number the linked device belongs to).

- Restored without ever losing the profile: decrypted as a stream (age in a thread, into a pipe) and
  unpacked member by member into a temp folder beside the profile, bounded by ``max_session_size_mb`` and
  the free space, every member's path resolved and refused outside the profile; verified there, then
  swapped in (:meth:`SessionStore.swap_in`). Only from a snapshot folder private to this user.

Keys: ``[snapshots] recipients`` (age public keys: a machine can write snapshots it cannot read) and
``[snapshots] identity`` (the private key file, refused when group- or world-readable). With neither,
snapshots are off. Everything here is blocking I/O: the manager runs it off the event loop.
"""

# What callers use today as ``sn.<name>`` (and the types those return or raise); the rest lives in the modules.
from watui.core.disk.login import account_on_disk
from watui.core.snapshots.archive import (
    LoginCopy,
    Source,
    copy_login,
    open_snapshot,
    take,
    unpack,
    verify,
)
from watui.core.snapshots.catalog import (
    BadSnapshot,
    Snapshot,
    SnapshotError,
    candidates,
    find,
    list_snapshots,
    revoke,
    snapshot_dir,
    status_line,
)
from watui.core.snapshots.keeper import Keeper
from watui.core.snapshots.keys import (
    Keys,
    generate_identity,
    identity_file,
    load_keys,
    read_identity,
)
from watui.core.snapshots.restoring import (
    RestoreReport,
    RunRecord,
    note_cleared,
    read_record,
    restore,
    restore_first,
    write_record,
)

__all__ = [
    "BadSnapshot",
    "Keeper",
    "Keys",
    "LoginCopy",
    "RestoreReport",
    "RunRecord",
    "Snapshot",
    "SnapshotError",
    "Source",
    "account_on_disk",
    "candidates",
    "copy_login",
    "find",
    "generate_identity",
    "identity_file",
    "list_snapshots",
    "load_keys",
    "note_cleared",
    "open_snapshot",
    "read_identity",
    "read_record",
    "restore",
    "restore_first",
    "revoke",
    "snapshot_dir",
    "status_line",
    "take",
    "unpack",
    "verify",
    "write_record",
]
