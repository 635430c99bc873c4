"""SSH public keys pasted on the Rostering page and the drop's own host key: parsed and checked with asyncssh."""
import os
from dataclasses import dataclass
from pathlib import Path

import asyncssh

MAX_KEYS = 20
MAX_TEXT = 20_000
MIN_RSA_BITS = 2048
HOW_TO_MAKE = "make one with `ssh-keygen -t ed25519` and paste the contents of the .pub file"


class InvalidKeys(ValueError):
    """What is wrong with the pasted keys, said so the SIS administrator can fix it."""


@dataclass(frozen=True)
class PublicKey:
    line: str         # "algorithm base64 comment", as stored
    algorithm: str
    fingerprint: str  # SHA256:..., as `ssh-keygen -lf` prints it
    comment: str


def _parse_line(number: int, line: str) -> PublicKey:
    tokens = line.split()
    try:
        key = asyncssh.import_public_key(" ".join(tokens[:2]))
    except (asyncssh.KeyImportError, ValueError):
        key = None
    if key is None:
        if any("=" in token for token in tokens[:1]) and len(tokens) > 2:
            raise InvalidKeys(f"Line {number}: paste the key alone (type, key and comment), without options such as "
                              "from= or command=.")
        raise InvalidKeys(f"Line {number} is not an SSH public key. It should look like "
                          f"“ssh-ed25519 AAAAC3Nz… name@host”: {HOW_TO_MAKE}.")
    algorithm = key.get_algorithm()
    if algorithm == "ssh-dss":
        raise InvalidKeys(f"Line {number} is a DSA key, which is no longer safe: {HOW_TO_MAKE}.")
    bits = getattr(getattr(key, "pyca_key", None), "key_size", None)
    if algorithm == "ssh-rsa" and bits is not None and bits < MIN_RSA_BITS:
        raise InvalidKeys(f"Line {number} is a {bits}-bit RSA key; keys need at least {MIN_RSA_BITS} bits: "
                          f"{HOW_TO_MAKE}.")
    comment = " ".join(tokens[2:])
    return PublicKey(line=" ".join(tokens[:2] + ([comment] if comment else [])), algorithm=algorithm,
                     fingerprint=key.get_fingerprint("sha256"), comment=comment)


def parse_keys(text: str) -> list[PublicKey]:
    """One public key per line (blank lines and # comments skipped); InvalidKeys names the first bad line."""
    text = (text or "").replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT:
        raise InvalidKeys(f"That is more text than {MAX_KEYS} public keys take; paste only the public keys.")
    if "PRIVATE KEY" in text:
        raise InvalidKeys("That is a private key: never share it. Paste the public key instead (the file ending "
                          "in .pub, one line starting with ssh-ed25519, ssh-rsa or ecdsa-sha2-).")
    keys, seen = [], set()
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key = _parse_line(number, line)
        if key.fingerprint not in seen:
            seen.add(key.fingerprint)
            keys.append(key)
    if len(keys) > MAX_KEYS:
        raise InvalidKeys(f"At most {MAX_KEYS} keys can be saved; remove the ones no longer in use.")
    return keys


def authorized_keys_of(text: str):
    """asyncssh's authorized keys for what was saved, or None when there are none."""
    text = (text or "").strip()
    return asyncssh.import_authorized_keys(text) if text else None


def ensure_host_key(path: str, *, create: bool) -> asyncssh.SSHKey:
    """The server's host key; made (Ed25519, mode 0600, with a .pub beside it for the web page) if it is missing
    and `create` is set (outside production: there the key is provisioned, so clients' known_hosts stay valid)."""
    key_path = Path(path)
    if not key_path.exists():
        if not create:
            raise SystemExit(f"The SFTP host key {key_path} does not exist. Create it once (ssh-keygen -t ed25519 "
                             f"-N '' -f {key_path}) and keep it: SIS clients trust it by its fingerprint.")
        key_path.parent.mkdir(parents=True, exist_ok=True)
        key = asyncssh.generate_private_key("ssh-ed25519", comment="rostering-portal-sftp")
        descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key.export_private_key())
    key = asyncssh.read_private_key(str(key_path))
    public = Path(f"{key_path}.pub")
    exported = key.export_public_key()
    if not public.exists() or public.read_bytes() != exported:
        public.write_bytes(exported)
    return key


def host_key_fingerprint(path: str) -> str:
    """SHA256 fingerprint of the server's host key from its .pub file; "" until the server has started once."""
    try:
        return asyncssh.read_public_key(f"{path}.pub").get_fingerprint("sha256")
    except (OSError, asyncssh.KeyImportError, ValueError):
        return ""
